/* A finalizer may call back into the server whose callback it releases: replacing the auth
 * callback or a handler runs the old finalizer after rpcx let go of the server's lock, so an
 * rpcx_server_* call from it does not deadlock. Each replacement runs on its own thread and
 * the main thread waits for it with a generous bound, so a deadlock fails the test instead of
 * hanging it. */
#define _POSIX_C_SOURCE 200809L
#include <stdint.h>

#include "testutil.h"

static rpcx_server *g_server;
static atomic_int finalized;
static atomic_int inner_status = -1;
/* Cleared before rpcx_server_free: a finalizer run by the free must not use the server. */
static atomic_int reenter = 1;

static int accept_all(void *userdata, const char *service, const char *method, const char *token,
                      const char *peer, char *message, size_t message_cap) {
    (void)userdata;
    (void)service;
    (void)method;
    (void)token;
    (void)peer;
    (void)message;
    (void)message_cap;
    return 1;
}

static void on_echo(void *userdata, const rpcx_request *req, rpcx_responder *resp) {
    (void)userdata;
    size_t len = 0;
    const uint8_t *data = rpcx_request_payload(req, &len);
    CHECK_OK(rpcx_responder_reply(resp, data, len, NULL));
}

/* Calls into the server that owns the callback being released. */
static void reentering_finalizer(void *userdata) {
    (void)userdata;
    if (atomic_load(&reenter)) {
        atomic_store(&inner_status,
                     (int)rpcx_server_set_service_metadata(g_server, "S", "weight=7"));
    }
    atomic_fetch_add(&finalized, 1);
}

static int replace_auth(void *arg) {
    (void)arg;
    CHECK_OK(rpcx_server_set_auth(g_server, accept_all, NULL, reentering_finalizer));
    return 0;
}

static int replace_handler(void *arg) {
    (void)arg;
    CHECK_OK(rpcx_server_register(g_server, "S", "Echo", on_echo, NULL, reentering_finalizer));
    return 0;
}

/* Runs `fn` on a thread and fails (rather than hangs) if it does not finish in time. */
static void run_bounded(thrd_start_t fn, const char *what) {
    atomic_store(&inner_status, -1);
    int before = atomic_load(&finalized);
    thrd_t t;
    CHECK(thrd_create(&t, fn, NULL) == thrd_success);
    long end = now_ms() + 30000;
    while (atomic_load(&finalized) == before) {
        if (now_ms() > end) {
            fprintf(stderr, "%s: the finalizer calling back into the server deadlocked\n", what);
            exit(1);
        }
        sleep_ms(1);
    }
    CHECK(thrd_join(t, NULL) == thrd_success);
    CHECK_STATUS((rpcx_status)atomic_load(&inner_status), RPCX_OK);
}

int main(void) {
    CHECK_OK(rpcx_server_new(NULL, &g_server));
    CHECK_OK(rpcx_server_set_auth(g_server, accept_all, NULL, reentering_finalizer));
    CHECK_OK(rpcx_server_register(g_server, "S", "Echo", on_echo, NULL, reentering_finalizer));
    /* Replacing each runs the previous finalizer, which re-enters the server. */
    run_bounded(replace_auth, "rpcx_server_set_auth");
    run_bounded(replace_handler, "rpcx_server_register");
    CHECK(atomic_load(&finalized) == 2);

    /* The server still works, with the metadata the finalizers set. */
    uint16_t port = 0;
    CHECK_OK(rpcx_server_start(g_server, "tcp@127.0.0.1:0", &port, NULL));
    char addr[64];
    snprintf(addr, sizeof addr, "tcp@127.0.0.1:%u", (unsigned)port);
    rpcx_client *client = NULL;
    CHECK_OK(test_connect(addr, &client, NULL));
    rpcx_buf reply = empty_buf();
    CHECK_OK(rpcx_client_call(client, "S", "Echo", (const uint8_t *)"hi", 2, NULL, 30000, &reply,
                              NULL, NULL));
    CHECK(reply.len == 2 && memcmp(reply.data, "hi", 2) == 0);
    rpcx_buf_free(&reply);
    rpcx_client_free(client);
    /* Freeing releases the current auth callback and handler (once each). */
    atomic_store(&reenter, 0);
    rpcx_server_free(g_server);
    CHECK(atomic_load(&finalized) == 4);
    printf("test_reentrant_finalizer: ok\n");
    return 0;
}
