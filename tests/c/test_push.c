/* Server pushes in C: a handler pushes to its caller's connection during the call and keeps
 * the connection (rpcx_request_connection) to push later from another thread; a C client and
 * a C XClient receive the pushes through their push callbacks (in order, with the server's
 * address); a push to a closed connection fails with RPCX_ERR_CLOSED; argument errors; the
 * push callbacks' finalizers run exactly once. */
#include <stdint.h>

#include "testutil.h"

/* The connection the last Hub.Join came on (set by the handler, read by main). */
static _Atomic(rpcx_connection *) kept;
/* What handlers saw go wrong, checked by main (a failed CHECK on a runtime thread would
 * still fail the test, but this names the step). */
static atomic_int handler_blocking_refused;

/* Hub.Join: pushes "welcome" (without waiting: timeout 0, as handlers must), keeps the
 * connection for main, replies "joined". */
static void join(void *userdata, const rpcx_request *req, rpcx_responder *resp) {
    (void)userdata;
    rpcx_connection *conn = rpcx_request_connection(req);
    CHECK(conn != NULL);
    CHECK(rpcx_connection_is_open(conn) == 1);
    CHECK(strncmp(rpcx_connection_peer(conn), "tcp@127.0.0.1:", 14) == 0);
    CHECK_STR(rpcx_connection_peer(conn), rpcx_request_peer(req));
    rpcx_metadata *md = rpcx_metadata_new();
    CHECK_OK(rpcx_metadata_set(md, "kind", "greeting"));
    CHECK_OK(rpcx_connection_push(conn, "Hub", "Welcome", (const uint8_t *)"welcome", 7, md, 0,
                                  NULL));
    rpcx_metadata_free(md);
    /* A waiting push would block a runtime thread: refused. */
    rpcx_error *err = NULL;
    if (rpcx_connection_push(conn, "Hub", "Welcome", NULL, 0, NULL, 1000, &err) ==
        RPCX_ERR_BLOCKING_IN_RUNTIME) {
        atomic_fetch_add(&handler_blocking_refused, 1);
    }
    rpcx_error_free(err);
    rpcx_connection_free(atomic_exchange(&kept, conn));
    CHECK_OK(rpcx_responder_reply(resp, (const uint8_t *)"joined", 6, NULL));
}

/* What a push callback received, in order. */
struct inbox {
    atomic_int count;
    atomic_int finalized;
    char methods[8][32];
    char payloads[8][32];
    char kinds[8][32];
    char servers[8][64];
};

static void on_push(void *userdata, const char *server, const char *service, const char *method,
                    const rpcx_metadata *md, const uint8_t *payload, size_t len) {
    struct inbox *in = userdata;
    CHECK_STR(service, "Hub");
    CHECK(payload != NULL || len == 0);
    int i = atomic_load(&in->count);
    if (i < 8) {
        snprintf(in->methods[i], sizeof in->methods[i], "%s", method);
        snprintf(in->payloads[i], sizeof in->payloads[i], "%.*s", (int)len, (const char *)payload);
        const char *kind = meta_get(md, "kind");
        snprintf(in->kinds[i], sizeof in->kinds[i], "%s", kind ? kind : "");
        snprintf(in->servers[i], sizeof in->servers[i], "%s", server);
    }
    atomic_fetch_add(&in->count, 1); /* published after the fields */
}

static void finalize_inbox(void *userdata) {
    struct inbox *in = userdata;
    atomic_fetch_add(&in->finalized, 1);
}

static void call_join(rpcx_client *client) {
    rpcx_buf reply = empty_buf();
    rpcx_error *err = NULL;
    CHECK_CALL(rpcx_client_call(client, "Hub", "Join", NULL, 0, NULL, 10000, &reply, NULL, &err),
               &err);
    CHECK(reply.len == 6 && memcmp(reply.data, "joined", 6) == 0);
    rpcx_buf_free(&reply);
}

static void wait_closed(const rpcx_connection *conn) {
    long end = now_ms() + 30000;
    while (rpcx_connection_is_open(conn)) {
        CHECK(now_ms() < end);
        sleep_ms(5);
    }
}

static void test_client_receives_pushes(const char *addr) {
    static struct inbox in;
    rpcx_client_options *opts = rpcx_client_options_new();
    CHECK_OK(rpcx_client_options_set_connect_timeout_ms(opts, 10000));
    CHECK_OK(rpcx_client_options_set_push_callback(opts, on_push, &in, finalize_inbox));
    rpcx_client *client = NULL;
    rpcx_error *err = NULL;
    CHECK_CALL(rpcx_client_connect(addr, opts, &client, &err), &err);

    call_join(client);
    rpcx_connection *conn = atomic_exchange(&kept, NULL);
    CHECK(conn != NULL);
    CHECK(atomic_load(&handler_blocking_refused) == 1);

    /* After the call: pushes from this (non-runtime) thread, waiting for room if need be. */
    rpcx_connection *copy = rpcx_connection_clone(conn);
    CHECK_OK(rpcx_connection_push(conn, "Hub", "News", (const uint8_t *)"one", 3, NULL, 5000, &err));
    CHECK_OK(rpcx_connection_push(copy, "Hub", "News", (const uint8_t *)"two", 3, NULL, 0, &err));
    wait_for(&in.count, 3, 30000, "three pushes");
    CHECK_STR(in.methods[0], "Welcome");
    CHECK_STR(in.payloads[0], "welcome");
    CHECK_STR(in.kinds[0], "greeting");
    CHECK_STR(in.servers[0], addr);
    CHECK_STR(in.payloads[1], "one");
    CHECK_STR(in.payloads[2], "two");
    CHECK_STR(in.kinds[2], "");

    /* Argument errors. */
    CHECK_STATUS(rpcx_connection_push(NULL, "Hub", "News", NULL, 0, NULL, 0, NULL),
                 RPCX_ERR_NULL_ARG);
    CHECK_STATUS(rpcx_connection_push(conn, NULL, "News", NULL, 0, NULL, 0, NULL),
                 RPCX_ERR_NULL_ARG);
    CHECK_STATUS(rpcx_connection_push(conn, "", "", NULL, 0, NULL, 0, NULL), RPCX_ERR_INVALID_ARG);
    CHECK_STATUS(rpcx_connection_push(conn, "Hub", "News", NULL, 5, NULL, 0, NULL),
                 RPCX_ERR_NULL_ARG);
    CHECK(rpcx_connection_is_open(NULL) == 0);
    CHECK(rpcx_connection_peer(NULL) == NULL);
    CHECK(rpcx_request_connection(NULL) == NULL);
    CHECK(rpcx_connection_clone(NULL) == NULL);
    rpcx_connection_free(NULL);

    /* The client goes away: pushes to its connection fail with CLOSED. */
    rpcx_client_free(client);
    CHECK(atomic_load(&in.finalized) == 0); /* the options still hold the callback */
    rpcx_client_options_free(opts);
    CHECK(atomic_load(&in.finalized) == 1); /* ran on this thread, after the last push */
    CHECK(atomic_load(&in.count) == 3);
    wait_closed(conn);
    CHECK(rpcx_connection_is_open(copy) == 0);
    CHECK_STATUS(rpcx_connection_push(conn, "Hub", "News", NULL, 0, NULL, 0, &err),
                 RPCX_ERR_CLOSED);
    CHECK(rpcx_error_code(err) == RPCX_ERR_CLOSED);
    rpcx_error_free(err);
    err = NULL;
    CHECK_STATUS(rpcx_connection_push(copy, "Hub", "News", NULL, 0, NULL, 1000, NULL),
                 RPCX_ERR_CLOSED);
    rpcx_connection_free(conn);
    rpcx_connection_free(copy);
}

static void test_xclient_receives_pushes(const char *addr) {
    static struct inbox in;
    rpcx_discovery *d = NULL;
    CHECK_OK(rpcx_discovery_new_peer(addr, "", &d));
    rpcx_xclient_options *opts = rpcx_xclient_options_new();
    CHECK_OK(rpcx_xclient_options_set_push_callback(opts, on_push, &in, finalize_inbox));
    rpcx_xclient *xc = NULL;
    rpcx_error *err = NULL;
    CHECK_CALL(rpcx_xclient_new("Hub", d, opts, &xc, &err), &err);
    rpcx_xclient_options_free(opts); /* the XClient keeps the callback */
    rpcx_discovery_free(d);
    CHECK(atomic_load(&in.finalized) == 0);

    rpcx_buf reply = empty_buf();
    CHECK_CALL(rpcx_xclient_call(xc, "Join", NULL, 0, NULL, 10000, &reply, NULL, &err), &err);
    rpcx_buf_free(&reply);
    rpcx_connection *conn = atomic_exchange(&kept, NULL);
    CHECK_OK(rpcx_connection_push(conn, "Hub", "News", (const uint8_t *)"later", 5, NULL, 5000,
                                  &err));
    wait_for(&in.count, 2, 30000, "two XClient pushes");
    CHECK_STR(in.methods[0], "Welcome");
    CHECK_STR(in.servers[0], addr); /* the server's key in the discovery */
    CHECK_STR(in.payloads[1], "later");

    rpcx_xclient_free(xc);
    CHECK(atomic_load(&in.finalized) == 1);
    wait_closed(conn);
    CHECK_STATUS(rpcx_connection_push(conn, "Hub", "News", NULL, 0, NULL, 0, NULL),
                 RPCX_ERR_CLOSED);
    rpcx_connection_free(conn);
}

int main(void) {
    /* Options errors: the finalizer runs even when the call fails. */
    static struct inbox spare;
    CHECK_STATUS(rpcx_client_options_set_push_callback(NULL, on_push, &spare, finalize_inbox),
                 RPCX_ERR_NULL_ARG);
    CHECK(atomic_load(&spare.finalized) == 1);
    rpcx_client_options *o = rpcx_client_options_new();
    CHECK_STATUS(rpcx_client_options_set_push_callback(o, NULL, &spare, finalize_inbox),
                 RPCX_ERR_NULL_ARG);
    CHECK(atomic_load(&spare.finalized) == 2);
    CHECK_OK(rpcx_client_options_set_push_callback(o, on_push, &spare, finalize_inbox));
    CHECK_OK(rpcx_client_options_set_push_callback(o, on_push, &spare, finalize_inbox));
    CHECK(atomic_load(&spare.finalized) == 3); /* the replaced one */
    rpcx_client_options_free(o);
    CHECK(atomic_load(&spare.finalized) == 4);

    rpcx_server *server = NULL;
    uint16_t port = 0;
    char addr[64];
    CHECK_OK(rpcx_server_new(NULL, &server));
    CHECK_OK(rpcx_server_register(server, "Hub", "Join", join, NULL, NULL));
    CHECK_OK(rpcx_server_start(server, "tcp@127.0.0.1:0", &port, NULL));
    snprintf(addr, sizeof addr, "tcp@127.0.0.1:%u", (unsigned)port);

    test_client_receives_pushes(addr);
    test_xclient_receives_pushes(addr);

    rpcx_server_free(server);
    printf("test_push: ok\n");
    return 0;
}
