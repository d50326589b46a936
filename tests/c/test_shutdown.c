/* Shutdown and close with calls pending: graceful drain within the grace period, pending
 * calls failed after it, shutdown from another thread and from two threads at once, client
 * close/free completing async callbacks with RPCX_ERR_CLOSED before returning, server free
 * with calls pending, and finalizers running exactly once. */
#define _POSIX_C_SOURCE 200809L
#include <stdint.h>

#include "testutil.h"

static atomic_int finalized;
static _Atomic(rpcx_responder *) parked[64];
static atomic_int parked_count;

static void count_finalizer(void *userdata) {
    (void)userdata;
    atomic_fetch_add(&finalized, 1);
}

static void on_park(void *userdata, const rpcx_request *req, rpcx_responder *resp) {
    (void)userdata;
    (void)req;
    int i = atomic_fetch_add(&parked_count, 1);
    CHECK(i < 64);
    atomic_store(&parked[i], resp);
}

static void on_echo(void *userdata, const rpcx_request *req, rpcx_responder *resp) {
    (void)userdata;
    size_t len = 0;
    const uint8_t *data = rpcx_request_payload(req, &len);
    CHECK_OK(rpcx_responder_reply(resp, data, len, NULL));
}

struct server_ctx {
    rpcx_server *server;
    char addr[64];
};

static void start(struct server_ctx *s) {
    atomic_store(&parked_count, 0);
    CHECK_OK(rpcx_server_new(NULL, &s->server));
    CHECK_OK(rpcx_server_register(s->server, "S", "Park", on_park, NULL, count_finalizer));
    CHECK_OK(rpcx_server_register(s->server, "S", "Echo", on_echo, NULL, count_finalizer));
    uint16_t port = 0;
    CHECK_OK(rpcx_server_start(s->server, "tcp@127.0.0.1:0", &port, NULL));
    snprintf(s->addr, sizeof s->addr, "tcp@127.0.0.1:%u", (unsigned)port);
}

static atomic_int outcomes[32];
static atomic_int callbacks;

static void on_done(void *userdata, uint64_t call_id, rpcx_status status, const uint8_t *reply,
                    size_t reply_len, const rpcx_metadata *reply_meta, const rpcx_error *error) {
    (void)userdata;
    (void)call_id;
    (void)reply;
    (void)reply_len;
    (void)reply_meta;
    CHECK(status == RPCX_OK || error != NULL);
    CHECK((int)status >= 0 && (int)status < 32);
    atomic_fetch_add(&outcomes[status], 1);
    atomic_fetch_add(&callbacks, 1);
}

static void reset_outcomes(void) {
    for (int i = 0; i < 32; i++) {
        atomic_store(&outcomes[i], 0);
    }
    atomic_store(&callbacks, 0);
}

/* A call finishing within the grace period is answered; shutdown returns early. */
struct delayed {
    int index;
    long delay_ms;
};

static int reply_later(void *arg) {
    struct delayed *d = arg;
    wait_for(&parked_count, d->index + 1, 30000, "parked call");
    sleep_ms(d->delay_ms);
    CHECK_OK(rpcx_responder_reply(atomic_load(&parked[d->index]), (const uint8_t *)"done", 4, NULL));
    return 0;
}

static void test_graceful(void) {
    struct server_ctx s;
    start(&s);
    rpcx_client *client = NULL;
    CHECK_OK(test_connect(s.addr, &client, NULL));
    reset_outcomes();
    CHECK_OK(rpcx_client_call_async(client, "S", "Park", NULL, 0, NULL, 0, on_done, NULL, NULL));
    wait_for(&parked_count, 1, 30000, "parked call");
    struct delayed d = {0, 100};
    thrd_t t;
    CHECK(thrd_create(&t, reply_later, &d) == thrd_success);
    long t0 = now_ms();
    CHECK_OK(rpcx_server_shutdown(s.server, 5000));
    long took = now_ms() - t0;
    CHECK(took >= 80 && took < 20000);
    CHECK(thrd_join(t, NULL) == thrd_success);
    wait_for(&callbacks, 1, 30000, "graceful reply");
    CHECK(atomic_load(&outcomes[RPCX_OK]) == 1);
    /* After shutdown new calls fail. */
    rpcx_error *err = NULL;
    rpcx_status st = rpcx_client_call(client, "S", "Echo", NULL, 0, NULL, 30000, NULL, NULL, &err);
    CHECK(st == RPCX_ERR_CONNECTION || st == RPCX_ERR_CLOSED);
    rpcx_error_free(err);
    rpcx_client_free(client);
    int f = atomic_load(&finalized);
    rpcx_server_free(s.server);
    CHECK(atomic_load(&finalized) == f + 2);
}

/* Calls still pending when the grace period ends fail; their responders become invalid. */
struct blocking_call {
    rpcx_client *client;
    rpcx_status status;
};

static int call_park(void *arg) {
    struct blocking_call *b = arg;
    rpcx_error *err = NULL;
    b->status = rpcx_client_call(b->client, "S", "Park", NULL, 0, NULL, 0, NULL, NULL, &err);
    rpcx_error_free(err);
    return 0;
}

static void test_pending_at_deadline(void) {
    struct server_ctx s;
    start(&s);
    rpcx_client *client = NULL;
    CHECK_OK(test_connect(s.addr, &client, NULL));
    reset_outcomes();
    for (int i = 0; i < 4; i++) {
        CHECK_OK(rpcx_client_call_async(client, "S", "Park", NULL, 0, NULL, 0, on_done, NULL, NULL));
    }
    struct blocking_call b = {client, RPCX_OK};
    thrd_t t;
    CHECK(thrd_create(&t, call_park, &b) == thrd_success);
    wait_for(&parked_count, 5, 30000, "parked calls");

    long t0 = now_ms();
    CHECK_OK(rpcx_server_shutdown(s.server, 200));
    long took = now_ms() - t0;
    CHECK(took >= 150 && took < 20000);
    CHECK(thrd_join(t, NULL) == thrd_success);
    CHECK(b.status == RPCX_ERR_SERVER || b.status == RPCX_ERR_CONNECTION);
    wait_for(&callbacks, 4, 30000, "failed pending calls");
    CHECK(atomic_load(&outcomes[RPCX_ERR_SERVER]) + atomic_load(&outcomes[RPCX_ERR_CONNECTION]) == 4);
    for (int i = 0; i < 5; i++) {
        CHECK_STATUS(rpcx_responder_reply(atomic_load(&parked[i]), NULL, 0, NULL),
                     RPCX_ERR_INVALID_STATE);
    }
    rpcx_client_free(client);
    rpcx_server_free(s.server);
}

/* Shutdown from two other threads at once while the main thread waits in a call. */
static int shutdown_thread(void *arg) {
    sleep_ms(50);
    CHECK_OK(rpcx_server_shutdown((rpcx_server *)arg, 100));
    return 0;
}

static void test_concurrent_shutdown(void) {
    struct server_ctx s;
    start(&s);
    rpcx_client *client = NULL;
    CHECK_OK(test_connect(s.addr, &client, NULL));
    thrd_t t1, t2;
    CHECK(thrd_create(&t1, shutdown_thread, s.server) == thrd_success);
    CHECK(thrd_create(&t2, shutdown_thread, s.server) == thrd_success);
    rpcx_error *err = NULL;
    rpcx_status st = rpcx_client_call(client, "S", "Park", NULL, 0, NULL, 0, NULL, NULL, &err);
    CHECK(st == RPCX_ERR_SERVER || st == RPCX_ERR_CONNECTION);
    rpcx_error_free(err);
    CHECK(thrd_join(t1, NULL) == thrd_success);
    CHECK(thrd_join(t2, NULL) == thrd_success);
    rpcx_client_free(client);
    rpcx_server_free(s.server);
}

/* Client close and free complete pending async callbacks before returning. */
static void test_client_close_and_free(void) {
    struct server_ctx s;
    start(&s);
    rpcx_client *client = NULL;
    CHECK_OK(test_connect(s.addr, &client, NULL));
    reset_outcomes();
    for (int i = 0; i < 10; i++) {
        CHECK_OK(rpcx_client_call_async(client, "S", "Park", NULL, 0, NULL, 0, on_done, NULL, NULL));
    }
    CHECK(rpcx_client_pending(client) == 10);
    CHECK_OK(rpcx_client_close(client));
    CHECK(atomic_load(&callbacks) == 10);
    CHECK(atomic_load(&outcomes[RPCX_ERR_CLOSED]) == 10);
    CHECK(rpcx_client_pending(client) == 0);
    /* Closed: new async calls are refused and their callback never runs. */
    CHECK_STATUS(rpcx_client_call_async(client, "S", "Echo", NULL, 0, NULL, 0, on_done, NULL, NULL),
                 RPCX_ERR_CLOSED);
    CHECK(atomic_load(&callbacks) == 10);
    rpcx_client_free(client);

    CHECK_OK(test_connect(s.addr, &client, NULL));
    reset_outcomes();
    for (int i = 0; i < 5; i++) {
        CHECK_OK(rpcx_client_call_async(client, "S", "Park", NULL, 0, NULL, 0, on_done, NULL, NULL));
    }
    rpcx_client_free(client);
    CHECK(atomic_load(&callbacks) == 5);
    CHECK(atomic_load(&outcomes[RPCX_ERR_CLOSED]) == 5);

    /* Freeing the server with calls still parked: no hang, finalizers run in free. */
    int f = atomic_load(&finalized);
    rpcx_server_free(s.server);
    CHECK(atomic_load(&finalized) == f + 2);
}

/* Closing a client from inside one of its own callbacks does not deadlock. */
static rpcx_client *g_self_closing;
static void close_from_callback(void *userdata, uint64_t call_id, rpcx_status status,
                                const uint8_t *reply, size_t reply_len,
                                const rpcx_metadata *reply_meta, const rpcx_error *error) {
    (void)userdata;
    (void)call_id;
    (void)reply;
    (void)reply_len;
    (void)reply_meta;
    (void)error;
    CHECK(status == RPCX_OK);
    CHECK_OK(rpcx_client_close(g_self_closing));
    atomic_fetch_add(&callbacks, 1);
}

static void test_close_inside_callback(void) {
    struct server_ctx s;
    start(&s);
    CHECK_OK(test_connect(s.addr, &g_self_closing, NULL));
    reset_outcomes();
    CHECK_OK(rpcx_client_call_async(g_self_closing, "S", "Park", NULL, 0, NULL, 0, on_done, NULL,
                                    NULL));
    CHECK_OK(rpcx_client_call_async(g_self_closing, "S", "Echo", NULL, 0, NULL, 0,
                                    close_from_callback, NULL, NULL));
    /* The Echo callback closes the client, which completes the parked call with CLOSED. */
    wait_for(&callbacks, 2, 30000, "self-closing callbacks");
    CHECK(atomic_load(&outcomes[RPCX_ERR_CLOSED]) == 1);
    rpcx_client_free(g_self_closing);
    rpcx_server_close(s.server);
    rpcx_server_free(s.server);
}

/* rpcx_server_close works from inside a handler (a runtime thread). */
static void on_close_server(void *userdata, const rpcx_request *req, rpcx_responder *resp) {
    (void)req;
    CHECK_OK(rpcx_server_close((rpcx_server *)userdata));
    rpcx_responder_free(resp);
}

static void test_close_from_handler(void) {
    rpcx_server *server = NULL;
    CHECK_OK(rpcx_server_new(NULL, &server));
    CHECK_OK(rpcx_server_register(server, "S", "Close", on_close_server, server, NULL));
    uint16_t port = 0;
    CHECK_OK(rpcx_server_start(server, "tcp@127.0.0.1:0", &port, NULL));
    char addr[64];
    snprintf(addr, sizeof addr, "tcp@127.0.0.1:%u", (unsigned)port);
    rpcx_client *client = NULL;
    CHECK_OK(test_connect(addr, &client, NULL));
    rpcx_error *err = NULL;
    rpcx_status st = rpcx_client_call(client, "S", "Close", NULL, 0, NULL, 30000, NULL, NULL, &err);
    CHECK(st == RPCX_ERR_SERVER || st == RPCX_ERR_CONNECTION);
    rpcx_error_free(err);
    rpcx_client_free(client);
    CHECK_OK(rpcx_server_shutdown(server, 0));
    rpcx_server_free(server);
}

int main(void) {
    test_graceful();
    test_pending_at_deadline();
    test_concurrent_shutdown();
    test_client_close_and_free();
    test_close_inside_callback();
    test_close_from_handler();
    printf("test_shutdown: ok\n");
    return 0;
}
