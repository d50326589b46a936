/* Interceptors in C: a server interceptor refuses a call, adds reply metadata and sees the
 * caller's address and metadata; a client (and an XClient) interceptor adds a trace id the
 * server sees, refuses calls locally (RPCX_ERR_REFUSED) and sees outcomes; what may be called
 * where (RPCX_ERR_INVALID_STATE); finalizers run once. Then the shipped server plugins: an IP
 * filter denying 127.0.0.1 and a rate limit refusing the excess. */
#include <stdint.h>

#include "testutil.h"

static atomic_int finalized;
static atomic_int server_before, server_after, client_before, client_after;
static atomic_int wrong_state_refused;
static char seen_peer[64], seen_trace[64], seen_server_error[128];
static char seen_client_error[128], seen_reply_meta[64], seen_client_peer[64];
static atomic_int seen_client_status;

static void count_finalizer(void *userdata) {
    CHECK(userdata == (void *)&finalized);
    atomic_fetch_add(&finalized, 1);
}

/* Echo.Trace replies with the trace-id the call carries ("" if none). */
static void trace(void *userdata, const rpcx_request *req, rpcx_responder *resp) {
    (void)userdata;
    const char *id = meta_get(rpcx_request_metadata(req), "trace-id");
    if (id == NULL) id = "";
    CHECK_OK(rpcx_responder_reply(resp, (const uint8_t *)id, strlen(id), NULL));
}

static void server_before_cb(void *userdata, rpcx_call *call) {
    CHECK(userdata == (void *)&finalized);
    atomic_fetch_add(&server_before, 1);
    snprintf(seen_peer, sizeof seen_peer, "%s", rpcx_call_peer(call));
    const char *id = meta_get(rpcx_call_metadata(call), "trace-id");
    snprintf(seen_trace, sizeof seen_trace, "%s", id ? id : "");
    CHECK_STR(rpcx_call_service(call), "Echo");
    CHECK(rpcx_call_status(call) == RPCX_OK && rpcx_call_error(call) == NULL);
    /* Request metadata is the client's to set. */
    if (rpcx_call_set_metadata(call, "k", "v") == RPCX_ERR_INVALID_STATE) {
        atomic_fetch_add(&wrong_state_refused, 1);
    }
    if (strcmp(rpcx_call_method(call), "Forbidden") == 0) {
        CHECK_OK(rpcx_call_reject(call, "no entry"));
    }
}

static void server_after_cb(void *userdata, rpcx_call *call) {
    (void)userdata;
    atomic_fetch_add(&server_after, 1);
    const char *e = rpcx_call_error(call);
    snprintf(seen_server_error, sizeof seen_server_error, "%s", e ? e : "");
    CHECK(rpcx_call_status(call) == (e ? RPCX_ERR_SERVER : RPCX_OK));
    CHECK_OK(rpcx_call_set_reply_meta(call, "served-by", "c-interceptor"));
    if (rpcx_call_reject(call, "too late") == RPCX_ERR_INVALID_STATE) {
        atomic_fetch_add(&wrong_state_refused, 1);
    }
}

static void client_before_cb(void *userdata, rpcx_call *call) {
    CHECK(userdata == (void *)&finalized);
    atomic_fetch_add(&client_before, 1);
    CHECK_OK(rpcx_call_set_metadata(call, "trace-id", "c-trace-1"));
    CHECK_STR(meta_get(rpcx_call_metadata(call), "trace-id"), "c-trace-1");
    if (rpcx_call_set_reply_meta(call, "k", "v") == RPCX_ERR_INVALID_STATE) {
        atomic_fetch_add(&wrong_state_refused, 1);
    }
    if (strcmp(rpcx_call_method(call), "Local") == 0) {
        CHECK_OK(rpcx_call_reject(call, "not from this client"));
    }
}

static void client_after_cb(void *userdata, rpcx_call *call) {
    (void)userdata;
    atomic_fetch_add(&client_after, 1);
    atomic_store(&seen_client_status, (int)rpcx_call_status(call));
    const char *e = rpcx_call_error(call);
    snprintf(seen_client_error, sizeof seen_client_error, "%s", e ? e : "");
    const rpcx_metadata *reply = rpcx_call_reply_metadata(call);
    const char *by = reply ? meta_get(reply, "served-by") : NULL;
    snprintf(seen_reply_meta, sizeof seen_reply_meta, "%s", by ? by : "");
    snprintf(seen_client_peer, sizeof seen_client_peer, "%s", rpcx_call_peer(call));
}

static rpcx_status call(rpcx_client *c, const char *method, char *reply_text, size_t cap,
                        rpcx_error **err) {
    rpcx_buf reply = empty_buf();
    rpcx_metadata *md = NULL;
    rpcx_status s = rpcx_client_call(c, "Echo", method, NULL, 0, NULL, 10000, &reply, &md, err);
    if (s == RPCX_OK && reply_text) {
        snprintf(reply_text, cap, "%.*s", (int)reply.len, (const char *)reply.data);
        CHECK_STR(meta_get(md, "served-by"), "c-interceptor");
    }
    rpcx_buf_free(&reply);
    rpcx_metadata_free(md);
    return s;
}

static void test_interceptors(void) {
    rpcx_server *server = NULL;
    uint16_t port = 0;
    char addr[64], text[64];
    CHECK_OK(rpcx_server_new(NULL, &server));
    CHECK_STATUS(rpcx_server_add_interceptor(server, NULL, NULL, &finalized, count_finalizer),
                 RPCX_ERR_NULL_ARG);
    CHECK(atomic_load(&finalized) == 1);
    CHECK_OK(rpcx_server_add_interceptor(server, server_before_cb, server_after_cb, &finalized,
                                         count_finalizer));
    CHECK_OK(rpcx_server_register(server, "Echo", "Trace", trace, NULL, NULL));
    CHECK_OK(rpcx_server_register(server, "Echo", "Forbidden", trace, NULL, NULL));
    CHECK_OK(rpcx_server_register(server, "Echo", "Local", trace, NULL, NULL));
    CHECK_OK(rpcx_server_start(server, "tcp@127.0.0.1:0", &port, NULL));
    CHECK_STATUS(rpcx_server_add_interceptor(server, server_before_cb, NULL, &finalized,
                                             count_finalizer),
                 RPCX_ERR_INVALID_STATE);
    CHECK(atomic_load(&finalized) == 2);
    snprintf(addr, sizeof addr, "tcp@127.0.0.1:%u", (unsigned)port);

    rpcx_client_options *opts = rpcx_client_options_new();
    CHECK_OK(rpcx_client_options_set_connect_timeout_ms(opts, 10000));
    CHECK_OK(rpcx_client_options_add_interceptor(opts, client_before_cb, client_after_cb,
                                                 &finalized, count_finalizer));
    rpcx_client *client = NULL;
    rpcx_error *err = NULL;
    CHECK_CALL(rpcx_client_connect(addr, opts, &client, &err), &err);

    /* The trace id added by the client interceptor reaches the handler and the server's
     * interceptor; the server's interceptor sees the caller's address and tags the reply. */
    CHECK_CALL(call(client, "Trace", text, sizeof text, &err), &err);
    CHECK_STR(text, "c-trace-1");
    CHECK_STR(seen_trace, "c-trace-1");
    CHECK(strncmp(seen_peer, "tcp@127.0.0.1:", 14) == 0);
    CHECK(strcmp(seen_peer, addr) != 0); /* the caller, not the server */
    CHECK_STR(seen_server_error, "");
    CHECK(atomic_load(&seen_client_status) == RPCX_OK);
    CHECK_STR(seen_reply_meta, "c-interceptor");
    CHECK_STR(seen_client_peer, addr);

    /* The server interceptor refuses: the handler never runs, the caller gets the text and
     * the reply metadata added after the refusal. */
    CHECK_STATUS(call(client, "Forbidden", NULL, 0, &err), RPCX_ERR_SERVER);
    CHECK_STR(err_text(err), "no entry");
    CHECK_STR(meta_get(rpcx_error_metadata(err), "served-by"), "c-interceptor");
    rpcx_error_free(err);
    err = NULL;
    CHECK_STR(seen_server_error, "no entry");
    CHECK(atomic_load(&seen_client_status) == RPCX_ERR_SERVER);
    CHECK_STR(seen_client_error, "no entry");
    CHECK_STR(seen_reply_meta, "c-interceptor");

    /* The client interceptor refuses: nothing reaches the server. */
    int before = atomic_load(&server_before);
    CHECK_STATUS(call(client, "Local", NULL, 0, &err), RPCX_ERR_REFUSED);
    CHECK_STR(err_text(err), "not from this client");
    rpcx_error_free(err);
    err = NULL;
    CHECK(atomic_load(&server_before) == before);
    CHECK(atomic_load(&seen_client_status) == RPCX_ERR_REFUSED);
    CHECK_STR(seen_client_error, "not from this client");
    CHECK_STR(seen_reply_meta, "");

    /* Oneway sends pass through the client interceptor too. */
    CHECK_CALL(rpcx_client_send(client, "Echo", "Trace", NULL, 0, NULL, &err), &err);
    CHECK(atomic_load(&client_before) == 4 && atomic_load(&client_after) == 4);
    CHECK(atomic_load(&seen_client_status) == RPCX_OK);

    /* An XClient's interceptor runs around its calls. */
    rpcx_discovery *d = NULL;
    CHECK_OK(rpcx_discovery_new_peer(addr, "", &d));
    rpcx_xclient_options *xopts = rpcx_xclient_options_new();
    CHECK_OK(rpcx_xclient_options_add_interceptor(xopts, client_before_cb, NULL, &finalized,
                                                  count_finalizer));
    rpcx_xclient *xc = NULL;
    CHECK_CALL(rpcx_xclient_new("Echo", d, xopts, &xc, &err), &err);
    rpcx_buf reply = empty_buf();
    CHECK_CALL(rpcx_xclient_call(xc, "Trace", NULL, 0, NULL, 10000, &reply, NULL, &err), &err);
    CHECK(reply.len == 9 && memcmp(reply.data, "c-trace-1", 9) == 0);
    rpcx_buf_free(&reply);
    CHECK_STATUS(rpcx_xclient_call(xc, "Local", NULL, 0, NULL, 10000, NULL, NULL, NULL),
                 RPCX_ERR_REFUSED);

    /* Finalizers: once every holder let go. */
    int fin = atomic_load(&finalized);
    rpcx_xclient_options_free(xopts);
    rpcx_xclient_free(xc);
    rpcx_discovery_free(d);
    CHECK(atomic_load(&finalized) == fin + 1);
    rpcx_client_free(client);
    CHECK(atomic_load(&finalized) == fin + 1);
    rpcx_client_options_free(opts);
    CHECK(atomic_load(&finalized) == fin + 2);
    rpcx_server_free(server);
    CHECK(atomic_load(&finalized) == fin + 3);
    /* set_metadata in a server interceptor, reject after the call, set_reply_meta in a client
     * interceptor: each refused every time it was tried. */
    CHECK(atomic_load(&wrong_state_refused) ==
          atomic_load(&server_before) + atomic_load(&server_after) + atomic_load(&client_before));

    CHECK_STATUS(rpcx_call_reject(NULL, "x"), RPCX_ERR_NULL_ARG);
    CHECK_STATUS(rpcx_call_set_metadata(NULL, "k", "v"), RPCX_ERR_NULL_ARG);
    CHECK_STATUS(rpcx_call_set_reply_meta(NULL, "k", "v"), RPCX_ERR_NULL_ARG);
    CHECK(rpcx_call_status(NULL) == RPCX_ERR_NULL_ARG);
    CHECK(rpcx_call_service(NULL) == NULL && rpcx_call_metadata(NULL) == NULL);
    CHECK(rpcx_call_error(NULL) == NULL && rpcx_call_reply_metadata(NULL) == NULL);
}

static void echo(void *userdata, const rpcx_request *req, rpcx_responder *resp) {
    (void)userdata;
    size_t len = 0;
    const uint8_t *p = rpcx_request_payload(req, &len);
    CHECK_OK(rpcx_responder_reply(resp, p, len, NULL));
}

static rpcx_server *echo_server(void) {
    rpcx_server *server = NULL;
    CHECK_OK(rpcx_server_new(NULL, &server));
    CHECK_OK(rpcx_server_register(server, "Echo", "Echo", echo, NULL, NULL));
    return server;
}

static void start(rpcx_server *server, char *addr, size_t cap) {
    uint16_t port = 0;
    CHECK_OK(rpcx_server_start(server, "tcp@127.0.0.1:0", &port, NULL));
    snprintf(addr, cap, "tcp@127.0.0.1:%u", (unsigned)port);
}

static void test_ip_filter(void) {
    char addr[64];
    rpcx_server *server = echo_server();
    const char *bad[] = {"127.0.0.1/33"};
    CHECK_STATUS(rpcx_server_add_ip_filter(server, bad, 1, NULL, 0), RPCX_ERR_INVALID_ARG);
    CHECK_STATUS(rpcx_server_add_ip_filter(server, NULL, 1, NULL, 0), RPCX_ERR_NULL_ARG);
    CHECK_STATUS(rpcx_server_add_ip_filter(NULL, NULL, 0, NULL, 0), RPCX_ERR_NULL_ARG);
    const char *deny[] = {"10.0.0.0/8", "127.0.0.1"};
    CHECK_OK(rpcx_server_add_ip_filter(server, NULL, 0, deny, 2));
    start(server, addr, sizeof addr);
    CHECK_STATUS(rpcx_server_add_ip_filter(server, NULL, 0, deny, 2), RPCX_ERR_INVALID_STATE);

    /* The handshake may complete (the kernel accepts), but the server drops the connection
     * unserved: either connecting or the first call fails. */
    rpcx_client *client = NULL;
    rpcx_error *err = NULL;
    rpcx_status s = test_connect(addr, &client, &err);
    if (s == RPCX_OK) {
        s = rpcx_client_call(client, "Echo", "Echo", (const uint8_t *)"x", 1, NULL, 10000, NULL,
                             NULL, &err);
        rpcx_client_free(client);
    }
    CHECK(s == RPCX_ERR_CONNECTION || s == RPCX_ERR_CLOSED);
    rpcx_error_free(err);
    rpcx_server_free(server);

    /* An allow list containing loopback serves as usual. */
    server = echo_server();
    const char *allow[] = {"127.0.0.0/8", "::1"};
    CHECK_OK(rpcx_server_add_ip_filter(server, allow, 2, NULL, 0));
    start(server, addr, sizeof addr);
    err = NULL;
    CHECK_CALL(test_connect(addr, &client, &err), &err);
    CHECK_CALL(rpcx_client_call(client, "Echo", "Echo", (const uint8_t *)"x", 1, NULL, 10000,
                                NULL, NULL, &err),
               &err);
    rpcx_client_free(client);
    rpcx_server_free(server);
}

static void test_rate_limit(void) {
    char addr[64];
    rpcx_server *server = echo_server();
    CHECK_STATUS(rpcx_server_add_rate_limit(server, 0, 2), RPCX_ERR_INVALID_ARG);
    CHECK_STATUS(rpcx_server_add_rate_limit(server, 1000, 0), RPCX_ERR_INVALID_ARG);
    CHECK_STATUS(rpcx_server_add_rate_limit(NULL, 1000, 2), RPCX_ERR_NULL_ARG);
    /* Two tokens, the next one in an hour. */
    CHECK_OK(rpcx_server_add_rate_limit(server, 3600ull * 1000 * 1000, 2));
    start(server, addr, sizeof addr);
    rpcx_client *client = NULL;
    rpcx_error *err = NULL;
    CHECK_CALL(test_connect(addr, &client, &err), &err);
    for (int i = 0; i < 2; i++) {
        CHECK_CALL(rpcx_client_call(client, "Echo", "Echo", (const uint8_t *)"x", 1, NULL, 10000,
                                    NULL, NULL, &err),
                   &err);
    }
    for (int i = 0; i < 3; i++) {
        CHECK_STATUS(rpcx_client_call(client, "Echo", "Echo", (const uint8_t *)"x", 1, NULL,
                                      10000, NULL, NULL, &err),
                     RPCX_ERR_SERVER);
        CHECK_STR(err_text(err), "request reached rate limit");
        rpcx_error_free(err);
        err = NULL;
    }
    rpcx_client_free(client);
    rpcx_server_free(server);
}

int main(void) {
    test_interceptors();
    test_ip_filter();
    test_rate_limit();
    printf("test_interceptor: ok\n");
    return 0;
}
