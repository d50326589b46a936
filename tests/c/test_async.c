/* Async calls: 8 threads issuing calls concurrently (mixed with blocking calls), each callback
 * exactly once with the right reply; cancel (callback on the cancelling thread, before
 * cancel returns); async timeouts; async calls chained from inside a handler. */
#define _POSIX_C_SOURCE 200809L
#include <stdint.h>

#include "testutil.h"

enum { THREADS = 8, CALLS_PER_THREAD = 200 };

static rpcx_client *g_client;
static atomic_int completed;
static atomic_int failures;
static _Atomic(rpcx_responder *) parked[16];
static atomic_int parked_count;

static void on_echo(void *userdata, const rpcx_request *req, rpcx_responder *resp) {
    (void)userdata;
    size_t len = 0;
    const uint8_t *data = rpcx_request_payload(req, &len);
    CHECK_OK(rpcx_responder_reply(resp, data, len, rpcx_request_metadata(req)));
}

static void on_park(void *userdata, const rpcx_request *req, rpcx_responder *resp) {
    (void)userdata;
    (void)req;
    int i = atomic_fetch_add(&parked_count, 1);
    CHECK(i < 16);
    atomic_store(&parked[i], resp);
}

/* Chains: an async call to Echo from a runtime thread; replies from its callback. */
static void proxy_done(void *userdata, uint64_t call_id, rpcx_status status, const uint8_t *reply,
                       size_t reply_len, const rpcx_metadata *reply_meta, const rpcx_error *error) {
    (void)call_id;
    (void)reply_meta;
    rpcx_responder *resp = userdata;
    if (status == RPCX_OK) {
        CHECK_OK(rpcx_responder_reply(resp, reply, reply_len, NULL));
    } else {
        CHECK_OK(rpcx_responder_error(resp, rpcx_error_message(error, NULL), NULL, 0));
    }
}

static void on_proxy(void *userdata, const rpcx_request *req, rpcx_responder *resp) {
    (void)userdata;
    size_t len = 0;
    const uint8_t *data = rpcx_request_payload(req, &len);
    CHECK_OK(rpcx_client_call_async(g_client, "T", "Echo", data, len, NULL, 0, proxy_done, resp,
                                    NULL));
}

struct expect {
    char payload[32];
    size_t len;
    atomic_int calls; /* times the callback ran for this call: must end at 1 */
};

static void on_done(void *userdata, uint64_t call_id, rpcx_status status, const uint8_t *reply,
                    size_t reply_len, const rpcx_metadata *reply_meta, const rpcx_error *error) {
    struct expect *e = userdata;
    CHECK(call_id != 0);
    if (atomic_fetch_add(&e->calls, 1) != 0) {
        atomic_fetch_add(&failures, 1);
    }
    if (status != RPCX_OK || error != NULL || reply_len != e->len ||
        memcmp(reply, e->payload, e->len) != 0 || meta_get(reply_meta, "n") == NULL ||
        strcmp(meta_get(reply_meta, "n"), e->payload) != 0) {
        fprintf(stderr, "bad completion: status %d %s\n", (int)status, err_text(error));
        atomic_fetch_add(&failures, 1);
    }
    atomic_fetch_add(&completed, 1);
}

static struct expect expects[THREADS][CALLS_PER_THREAD];

static int caller(void *arg) {
    int t = (int)(intptr_t)arg;
    rpcx_metadata *md = rpcx_metadata_new();
    for (int i = 0; i < CALLS_PER_THREAD; i++) {
        struct expect *e = &expects[t][i];
        e->len = (size_t)snprintf(e->payload, sizeof e->payload, "t%d-c%d", t, i);
        CHECK_OK(rpcx_metadata_set(md, "n", e->payload));
        uint64_t id = 0;
        CHECK_OK(rpcx_client_call_async(g_client, "T", "Echo", (const uint8_t *)e->payload, e->len,
                                        md, 30000, on_done, e, &id));
        CHECK(id != 0);
        if (i % 50 == 0) {
            /* A blocking call in between, on the same connection. */
            rpcx_buf reply = empty_buf();
            CHECK_OK(rpcx_client_call(g_client, "T", "Echo", (const uint8_t *)"b", 1, NULL, 30000,
                                      &reply, NULL, NULL));
            CHECK(reply.len == 1 && reply.data[0] == 'b');
            rpcx_buf_free(&reply);
        }
    }
    rpcx_metadata_free(md);
    return 0;
}

static atomic_int cancelled_here;
static thrd_t main_thread;

static void on_cancelled(void *userdata, uint64_t call_id, rpcx_status status, const uint8_t *reply,
                         size_t reply_len, const rpcx_metadata *reply_meta, const rpcx_error *error) {
    (void)reply_meta;
    CHECK(*(uint64_t *)userdata == call_id);
    CHECK(status == RPCX_ERR_CANCELLED);
    CHECK(reply == NULL && reply_len == 0);
    CHECK(rpcx_error_code(error) == RPCX_ERR_CANCELLED);
    CHECK(thrd_equal(thrd_current(), main_thread));
    atomic_fetch_add(&cancelled_here, 1);
}

static atomic_int timed_out;
static void on_timeout(void *userdata, uint64_t call_id, rpcx_status status, const uint8_t *reply,
                       size_t reply_len, const rpcx_metadata *reply_meta, const rpcx_error *error) {
    (void)userdata;
    (void)call_id;
    (void)reply;
    (void)reply_len;
    (void)reply_meta;
    CHECK(status == RPCX_ERR_TIMEOUT);
    CHECK(rpcx_error_code(error) == RPCX_ERR_TIMEOUT);
    CHECK(!thrd_equal(thrd_current(), main_thread)); /* a runtime thread */
    atomic_fetch_add(&timed_out, 1);
}

static atomic_int proxied;
static void on_proxied(void *userdata, uint64_t call_id, rpcx_status status, const uint8_t *reply,
                       size_t reply_len, const rpcx_metadata *reply_meta, const rpcx_error *error) {
    (void)userdata;
    (void)call_id;
    (void)reply_meta;
    (void)error;
    CHECK(status == RPCX_OK);
    CHECK(reply_len == 5 && memcmp(reply, "chain", 5) == 0);
    atomic_fetch_add(&proxied, 1);
}

int main(void) {
    main_thread = thrd_current();
    rpcx_server *server = NULL;
    CHECK_OK(rpcx_server_new(NULL, &server));
    CHECK_OK(rpcx_server_register(server, "T", "Echo", on_echo, NULL, NULL));
    CHECK_OK(rpcx_server_register(server, "T", "Park", on_park, NULL, NULL));
    CHECK_OK(rpcx_server_register(server, "T", "Proxy", on_proxy, NULL, NULL));
    uint16_t port = 0;
    CHECK_OK(rpcx_server_start(server, "tcp@127.0.0.1:0", &port, NULL));
    char addr[64];
    snprintf(addr, sizeof addr, "tcp@127.0.0.1:%u", (unsigned)port);
    CHECK_OK(test_connect(addr, &g_client, NULL));

    /* 8 threads, 200 async calls each (plus a few blocking ones). */
    thrd_t threads[THREADS];
    for (int t = 0; t < THREADS; t++) {
        CHECK(thrd_create(&threads[t], caller, (void *)(intptr_t)t) == thrd_success);
    }
    for (int t = 0; t < THREADS; t++) {
        CHECK(thrd_join(threads[t], NULL) == thrd_success);
    }
    wait_for(&completed, THREADS * CALLS_PER_THREAD, 60000, "async completions");
    CHECK(atomic_load(&failures) == 0);
    for (int t = 0; t < THREADS; t++) {
        for (int i = 0; i < CALLS_PER_THREAD; i++) {
            CHECK(atomic_load(&expects[t][i].calls) == 1);
        }
    }
    CHECK(rpcx_client_pending(g_client) == 0);

    /* Cancel: the callback runs on this thread before cancel returns. */
    uint64_t id = 0;
    CHECK_OK(rpcx_client_call_async(g_client, "T", "Park", NULL, 0, NULL, 0, on_cancelled, &id, &id));
    CHECK(rpcx_client_pending(g_client) == 1);
    wait_for(&parked_count, 1, 30000, "parked call");
    CHECK_OK(rpcx_client_cancel(g_client, id));
    CHECK(atomic_load(&cancelled_here) == 1);
    CHECK_STATUS(rpcx_client_cancel(g_client, id), RPCX_ERR_NOT_FOUND);
    CHECK(rpcx_client_pending(g_client) == 0);
    /* The server-side responder is still valid: its reply is dropped by the client. */
    CHECK_OK(rpcx_responder_reply(atomic_load(&parked[0]), NULL, 0, NULL));

    /* Async timeout: the callback gets RPCX_ERR_TIMEOUT on a runtime thread. */
    CHECK_OK(rpcx_client_call_async(g_client, "T", "Park", NULL, 0, NULL, 50, on_timeout, NULL, NULL));
    wait_for(&timed_out, 1, 30000, "async timeout");
    wait_for(&parked_count, 2, 30000, "second parked call");
    rpcx_responder_free(atomic_load(&parked[1]));

    /* Async calls chained inside a handler. */
    for (int i = 0; i < 20; i++) {
        CHECK_OK(rpcx_client_call_async(g_client, "T", "Proxy", (const uint8_t *)"chain", 5, NULL,
                                        30000, on_proxied, NULL, NULL));
    }
    wait_for(&proxied, 20, 30000, "proxied calls");

    rpcx_client_free(g_client);
    CHECK_OK(rpcx_server_shutdown(server, 1000));
    rpcx_server_free(server);
    printf("test_async: ok (%d calls)\n", atomic_load(&completed));
    return 0;
}
