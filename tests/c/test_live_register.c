/* Services registered and unregistered while the server runs (Go's Register after Serve and
 * UnregisterAll), through the C API: rpcx_server_register after rpcx_server_start reaches
 * callers at once, rpcx_server_unregister lets a call in flight finish while new calls get
 * Go's "can't find service", finalizers run when the last call of a removed handler ended
 * (and may call back into the server), rpcx_server_unregister_all, metadata set on a running
 * server, the same calls before start, and refusals once shut down. */
#define _POSIX_C_SOURCE 200809L
#include <stdint.h>

#include "testutil.h"

static rpcx_server *g_server;
static rpcx_client *g_client;
static atomic_int finalized[8];
static _Atomic(rpcx_responder *) parked;
static atomic_int reenter_status = -1;

static void count_final(void *userdata) { atomic_fetch_add(&finalized[(intptr_t)userdata], 1); }

/* Answers its userdata number as text. */
static void on_number(void *userdata, const rpcx_request *req, rpcx_responder *resp) {
    (void)req;
    char text[8];
    int n = snprintf(text, sizeof text, "%d", (int)(intptr_t)userdata);
    CHECK_OK(rpcx_responder_reply(resp, (const uint8_t *)text, (size_t)n, NULL));
}

/* Keeps its responder until the test replies. */
static void on_park(void *userdata, const rpcx_request *req, rpcx_responder *resp) {
    (void)userdata;
    (void)req;
    atomic_store(&parked, resp);
}

/* The finalizer of a handler that registers another one when released (re-entry). */
static void reregister_final(void *userdata) {
    (void)userdata;
    atomic_store(&reenter_status, (int)rpcx_server_register(g_server, "Again", "N", on_number,
                                                            (void *)(intptr_t)7, count_final));
}

/* Calls service.method; returns the status and copies the reply or the error text. */
static rpcx_status call(const char *service, const char *method, char *out, size_t cap) {
    rpcx_buf reply = empty_buf();
    rpcx_error *err = NULL;
    rpcx_status s =
        rpcx_client_call(g_client, service, method, NULL, 0, NULL, 30000, &reply, NULL, &err);
    const char *text = s == RPCX_OK ? (const char *)reply.data : err_text(err);
    size_t len = s == RPCX_OK ? reply.len : strlen(text);
    size_t n = len < cap - 1 ? len : cap - 1;
    if (n > 0) {
        memcpy(out, text, n);
    }
    out[n] = 0;
    rpcx_buf_free(&reply);
    rpcx_error_free(err);
    return s;
}

static void expect_number(const char *service, const char *method, const char *want) {
    char out[128];
    CHECK_OK(call(service, method, out, sizeof out));
    CHECK_STR(out, want);
}

static void expect_missing(const char *service) {
    char out[128], want[128];
    CHECK_STATUS(call(service, "N", out, sizeof out), RPCX_ERR_SERVER);
    snprintf(want, sizeof want, "rpcx: can't find service %s", service);
    CHECK_STR(out, want);
}

static int park_caller(void *arg) {
    char *out = arg;
    CHECK_OK(call("Live", "Park", out, 64));
    return 0;
}

static void before_start(void) {
    /* The same calls before start only change what the server will start with. */
    rpcx_server *s = NULL;
    CHECK_OK(rpcx_server_new(NULL, &s));
    CHECK_OK(rpcx_server_register(s, "A", "N", on_number, (void *)(intptr_t)6, count_final));
    CHECK_OK(rpcx_server_register(s, "B", "N", on_number, NULL, NULL));
    CHECK_OK(rpcx_server_set_service_metadata(s, "M", "weight=1"));
    CHECK_OK(rpcx_server_unregister(s, "A"));
    CHECK(atomic_load(&finalized[6]) == 1); /* released on this thread, before returning */
    CHECK_STATUS(rpcx_server_unregister(s, "A"), RPCX_ERR_NOT_FOUND);
    size_t n = 99;
    CHECK_OK(rpcx_server_unregister_all(s, &n));
    CHECK(n == 2); /* B, and M's metadata */
    CHECK_OK(rpcx_server_unregister_all(s, NULL));
    rpcx_server_free(s);
}

int main(void) {
    before_start();

    CHECK_OK(rpcx_server_new(NULL, &g_server));
    CHECK_OK(rpcx_server_register(g_server, "Keep", "N", on_number, (void *)(intptr_t)1,
                                  count_final));
    rpcx_error *err = NULL;
    uint16_t port = 0;
    CHECK_CALL(rpcx_server_start(g_server, "tcp@127.0.0.1:0", &port, &err), &err);
    char addr[64];
    snprintf(addr, sizeof addr, "tcp@127.0.0.1:%u", (unsigned)port);
    CHECK_CALL(test_connect(addr, &g_client, &err), &err);

    /* Registered while running: reachable at once. */
    expect_missing("Live");
    CHECK_OK(rpcx_server_register(g_server, "Live", "N", on_number, (void *)(intptr_t)2,
                                  count_final));
    expect_number("Live", "N", "2");
    /* Replaced: the old handler's finalizer ran before the call returned (no call ran). */
    CHECK_OK(rpcx_server_register(g_server, "Live", "N", on_number, (void *)(intptr_t)3,
                                  count_final));
    CHECK(atomic_load(&finalized[2]) == 1);
    expect_number("Live", "N", "3");
    CHECK_OK(rpcx_server_register(g_server, "Live", "Park", on_park, (void *)(intptr_t)4,
                                  count_final));
    CHECK_OK(rpcx_server_set_service_metadata(g_server, "Live", "weight=3&group=blue"));

    /* Unregistered with a call in flight: it finishes, new calls are refused. */
    char parked_reply[64] = "";
    thrd_t t;
    CHECK(thrd_create(&t, park_caller, parked_reply) == thrd_success);
    long end = now_ms() + 30000;
    while (atomic_load(&parked) == NULL) {
        CHECK(now_ms() < end);
        sleep_ms(1);
    }
    CHECK_OK(rpcx_server_unregister(g_server, "Live"));
    CHECK(atomic_load(&finalized[3]) == 1); /* not running: released at once */
    CHECK(atomic_load(&finalized[4]) == 0); /* its call is still running */
    expect_missing("Live");
    CHECK_STATUS(rpcx_server_unregister(g_server, "Live"), RPCX_ERR_NOT_FOUND);
    expect_number("Keep", "N", "1");
    CHECK_OK(rpcx_responder_reply(atomic_exchange(&parked, NULL), (const uint8_t *)"late", 4,
                                  NULL));
    CHECK(thrd_join(t, NULL) == thrd_success);
    CHECK_STR(parked_reply, "late");
    wait_for(&finalized[4], 1, 30000, "the finalizer of the handler whose call ended");

    /* A finalizer run by an unregister may call back into the server. */
    CHECK_OK(rpcx_server_register(g_server, "Reenter", "N", on_number, NULL, reregister_final));
    CHECK_OK(rpcx_server_unregister(g_server, "Reenter"));
    CHECK_STATUS((rpcx_status)atomic_load(&reenter_status), RPCX_OK);
    expect_number("Again", "N", "7");

    /* Unregister everything; the server keeps running and takes new services. */
    size_t n = 0;
    CHECK_OK(rpcx_server_unregister_all(g_server, &n));
    CHECK(n == 2); /* Keep, Again */
    CHECK(atomic_load(&finalized[1]) == 1 && atomic_load(&finalized[7]) == 1);
    expect_missing("Keep");
    expect_missing("Again");
    CHECK_OK(rpcx_server_unregister_all(g_server, &n));
    CHECK(n == 0);
    CHECK_OK(rpcx_server_register(g_server, "Keep", "N", on_number, (void *)(intptr_t)5,
                                  count_final));
    expect_number("Keep", "N", "5");

    /* Bad arguments. */
    CHECK_STATUS(rpcx_server_unregister(NULL, "Keep"), RPCX_ERR_NULL_ARG);
    CHECK_STATUS(rpcx_server_unregister(g_server, NULL), RPCX_ERR_NULL_ARG);
    CHECK_STATUS(rpcx_server_unregister_all(NULL, &n), RPCX_ERR_NULL_ARG);

    /* Once shut down: refused, and a refused handler is released before the call returns. */
    CHECK_OK(rpcx_server_shutdown(g_server, 1000));
    CHECK_STATUS(rpcx_server_register(g_server, "Late", "N", on_number, (void *)(intptr_t)6,
                                      count_final),
                 RPCX_ERR_INVALID_STATE);
    CHECK(atomic_load(&finalized[6]) == 2);
    CHECK_STATUS(rpcx_server_unregister(g_server, "Keep"), RPCX_ERR_INVALID_STATE);
    CHECK_STATUS(rpcx_server_unregister_all(g_server, NULL), RPCX_ERR_INVALID_STATE);
    CHECK_STATUS(rpcx_server_set_service_metadata(g_server, "Keep", "x=1"),
                 RPCX_ERR_INVALID_STATE);

    rpcx_client_free(g_client);
    rpcx_server_free(g_server);
    CHECK(atomic_load(&finalized[5]) == 1);
    printf("test_live_register: ok\n");
    return 0;
}
