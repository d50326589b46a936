/* Every error path of the C API that a C program can reach: NULL for each pointer argument,
 * invalid UTF-8, invalid option values, bad addresses, refused connections, ports in use,
 * wrong object states, timeouts, closed clients, limits, and the status/error accessors. */
#define _POSIX_C_SOURCE 200809L
#include <stdint.h>

#include "testutil.h"

static const char BAD_UTF8[] = {(char)0xff, (char)0xfe, 'x', 0};
static atomic_int finalized;

static void count_finalizer(void *userdata) {
    (void)userdata;
    atomic_fetch_add(&finalized, 1);
}

static void on_echo(void *userdata, const rpcx_request *req, rpcx_responder *resp) {
    (void)userdata;
    size_t len = 0;
    const uint8_t *data = rpcx_request_payload(req, &len);
    CHECK_OK(rpcx_responder_reply(resp, data, len, NULL));
}

static int on_auth(void *userdata, const char *service, const char *method, const char *token,
                   const char *peer, char *message, size_t cap) {
    (void)userdata;
    (void)service;
    (void)method;
    (void)token;
    (void)peer;
    (void)message;
    (void)cap;
    return 1;
}

/* Replies after the caller's deadline: the responder is invalid by then. */
static void on_slow(void *userdata, const rpcx_request *req, rpcx_responder *resp) {
    (void)userdata;
    (void)req;
    /* Keep the token for the test thread (single slot). */
    atomic_store((_Atomic(rpcx_responder *) *)userdata, resp);
}

/* Argument errors of responder functions leave the responder pending. */
static void on_bad_reply(void *userdata, const rpcx_request *req, rpcx_responder *resp) {
    (void)userdata;
    (void)req;
    CHECK_STATUS(rpcx_responder_reply(NULL, NULL, 0, NULL), RPCX_ERR_NULL_ARG);
    CHECK_STATUS(rpcx_responder_reply(resp, NULL, 3, NULL), RPCX_ERR_NULL_ARG);
    CHECK_STATUS(rpcx_responder_error(resp, NULL, NULL, 0), RPCX_ERR_NULL_ARG);
    CHECK_STATUS(rpcx_responder_error(resp, BAD_UTF8, NULL, 0), RPCX_ERR_INVALID_ARG);
    CHECK_STATUS(rpcx_responder_error(NULL, "x", NULL, 0), RPCX_ERR_NULL_ARG);
    CHECK_STATUS(rpcx_responder_error(resp, "x", NULL, 1), RPCX_ERR_NULL_ARG);
    CHECK_OK(rpcx_responder_error(resp, "still pending", NULL, 0));
    CHECK_STATUS(rpcx_responder_error(resp, "twice", NULL, 0), RPCX_ERR_INVALID_STATE);
    CHECK_STATUS(rpcx_responder_reply(resp, NULL, 0, NULL), RPCX_ERR_INVALID_STATE);
    rpcx_responder_free(resp); /* after completion: ignored */
    rpcx_responder_free(NULL);
}

static void on_null_request(void *userdata, const rpcx_request *req, rpcx_responder *resp) {
    (void)userdata;
    size_t len = 42;
    CHECK(rpcx_request_payload(NULL, &len) == NULL && len == 42);
    CHECK(rpcx_request_payload(req, NULL) == NULL); /* empty payload */
    CHECK(rpcx_request_metadata(NULL) == NULL);
    CHECK(rpcx_request_serialize_type(NULL) == 0);
    CHECK(rpcx_request_service(NULL) == NULL);
    CHECK(rpcx_request_method(NULL) == NULL);
    CHECK(rpcx_request_peer(NULL) == NULL);
    CHECK(rpcx_request_timeout_ms(NULL) == -1);
    CHECK(rpcx_request_timeout_ms(req) == -1); /* the call sets no timeout */
    CHECK_OK(rpcx_responder_reply(resp, NULL, 0, NULL));
}

static void test_status_strings(void) {
    for (int s = RPCX_OK; s <= RPCX_ERR_REFUSED; s++) {
        const char *text = rpcx_status_str(s);
        CHECK(text != NULL && strlen(text) > 0);
        CHECK(strcmp(text, "unrecognised status code") != 0);
    }
    CHECK_STR(rpcx_status_str(RPCX_OK), "ok");
    CHECK_STR(rpcx_status_str(RPCX_ERR_TIMEOUT), "call timed out");
    CHECK_STR(rpcx_status_str(-1), "unrecognised status code");
    CHECK_STR(rpcx_status_str(RPCX_ERR_REFUSED), "refused by a client interceptor");
    CHECK_STR(rpcx_status_str(RPCX_ERR_REFUSED + 1), "unrecognised status code");
    CHECK(rpcx_version() != NULL);
}

static void test_metadata_errors(void) {
    const char *v = "untouched";
    const char *k = "untouched";
    CHECK_STATUS(rpcx_metadata_set(NULL, "k", "v"), RPCX_ERR_NULL_ARG);
    rpcx_metadata *md = rpcx_metadata_new();
    CHECK_STATUS(rpcx_metadata_set(md, NULL, "v"), RPCX_ERR_NULL_ARG);
    CHECK_STATUS(rpcx_metadata_set(md, "k", NULL), RPCX_ERR_NULL_ARG);
    CHECK_STATUS(rpcx_metadata_set(md, BAD_UTF8, "v"), RPCX_ERR_INVALID_ARG);
    CHECK_STATUS(rpcx_metadata_set(md, "k", BAD_UTF8), RPCX_ERR_INVALID_ARG);
    CHECK(rpcx_metadata_len(md) == 0);
    CHECK(rpcx_metadata_len(NULL) == 0);
    CHECK_STATUS(rpcx_metadata_get(md, "k", &v), RPCX_ERR_NOT_FOUND);
    CHECK_STR(v, "untouched");
    CHECK_STATUS(rpcx_metadata_get(NULL, "k", &v), RPCX_ERR_NULL_ARG);
    CHECK_STATUS(rpcx_metadata_get(md, NULL, &v), RPCX_ERR_NULL_ARG);
    CHECK_STATUS(rpcx_metadata_get(md, BAD_UTF8, &v), RPCX_ERR_INVALID_ARG);
    CHECK_OK(rpcx_metadata_set(md, "k", "v"));
    CHECK_STATUS(rpcx_metadata_get(md, "k", NULL), RPCX_ERR_NULL_ARG);
    CHECK_STATUS(rpcx_metadata_at(md, 1, &k, &v), RPCX_ERR_NOT_FOUND);
    CHECK_STATUS(rpcx_metadata_at(NULL, 0, &k, &v), RPCX_ERR_NULL_ARG);
    CHECK_STR(k, "untouched");
    CHECK_OK(rpcx_metadata_at(md, 0, NULL, NULL));
    rpcx_metadata *empty = rpcx_metadata_clone(NULL);
    CHECK(empty != NULL && rpcx_metadata_len(empty) == 0);
    rpcx_metadata_free(empty);
    rpcx_metadata_free(md);
    rpcx_metadata_free(NULL);
}

static void test_error_accessors(void) {
    size_t len = 7;
    CHECK(rpcx_error_code(NULL) == RPCX_ERR_NULL_ARG);
    CHECK(rpcx_error_message(NULL, &len) == NULL && len == 7);
    CHECK(rpcx_error_payload(NULL, &len) == NULL && len == 7);
    CHECK(rpcx_error_metadata(NULL) == NULL);
    rpcx_error_free(NULL);
    rpcx_buf_free(NULL);

    /* An argument error carries a message naming the argument. */
    rpcx_error *err = NULL;
    rpcx_client *client = NULL;
    CHECK_STATUS(rpcx_client_connect(NULL, NULL, &client, &err), RPCX_ERR_NULL_ARG);
    CHECK(client == NULL);
    CHECK(rpcx_error_code(err) == RPCX_ERR_NULL_ARG);
    CHECK(strstr(rpcx_error_message(err, NULL), "address") != NULL);
    CHECK(rpcx_error_payload(err, &len) == NULL && len == 0);
    CHECK(rpcx_metadata_len(rpcx_error_metadata(err)) == 0);
    rpcx_error_free(err);
}

static void test_option_errors(void) {
    rpcx_limits limits;
    CHECK_OK(rpcx_limits_init(&limits, sizeof limits));
    rpcx_server_options *so = rpcx_server_options_new();
    CHECK_STATUS(rpcx_server_options_set_limits(NULL, &limits), RPCX_ERR_NULL_ARG);
    CHECK_STATUS(rpcx_server_options_set_limits(so, NULL), RPCX_ERR_NULL_ARG);
    limits.max_metadata_bytes = 0;
    CHECK_STATUS(rpcx_server_options_set_limits(so, &limits), RPCX_ERR_INVALID_ARG);
    CHECK_STATUS(rpcx_server_options_set_max_inflight(so, 0), RPCX_ERR_INVALID_ARG);
    CHECK_STATUS(rpcx_server_options_set_max_inflight(NULL, 1), RPCX_ERR_NULL_ARG);
    CHECK_STATUS(rpcx_server_options_set_max_connections(so, 0), RPCX_ERR_INVALID_ARG);
    CHECK_STATUS(rpcx_server_options_set_max_connections(NULL, 1), RPCX_ERR_NULL_ARG);
    if (sizeof(size_t) > 4) {
        /* The in-flight limit must fit 32 bits (refused here rather than at start). */
        CHECK_STATUS(rpcx_server_options_set_max_inflight(so, (size_t)UINT32_MAX + 1u),
                     RPCX_ERR_INVALID_ARG);
    }
    CHECK_STATUS(rpcx_server_options_set_max_pending_bytes_per_conn(so, 0), RPCX_ERR_INVALID_ARG);
    CHECK_STATUS(rpcx_server_options_set_max_pending_bytes_per_conn(NULL, 1), RPCX_ERR_NULL_ARG);
    CHECK_STATUS(rpcx_server_options_set_max_pending_bytes(so, 0), RPCX_ERR_INVALID_ARG);
    CHECK_STATUS(rpcx_server_options_set_max_pending_bytes(NULL, 1), RPCX_ERR_NULL_ARG);
    CHECK_STATUS(rpcx_server_options_set_idle_timeout_ms(NULL, 1), RPCX_ERR_NULL_ARG);
    rpcx_server_options_free(so);
    rpcx_server_options_free(NULL);

    rpcx_client_options *co = rpcx_client_options_new();
    CHECK_STATUS(rpcx_client_options_set_serialize_type(co, 16), RPCX_ERR_INVALID_ARG);
    CHECK_STATUS(rpcx_client_options_set_serialize_type(NULL, 1), RPCX_ERR_NULL_ARG);
    CHECK_STATUS(rpcx_client_options_set_timeout_ms(NULL, 1), RPCX_ERR_NULL_ARG);
    CHECK_STATUS(rpcx_client_options_set_connect_timeout_ms(co, 0), RPCX_ERR_INVALID_ARG);
    CHECK_STATUS(rpcx_client_options_set_connect_timeout_ms(NULL, 1), RPCX_ERR_NULL_ARG);
    CHECK_STATUS(rpcx_client_options_set_gzip(NULL, true), RPCX_ERR_NULL_ARG);
    CHECK_STATUS(rpcx_client_options_set_heartbeat(NULL, 1, 1), RPCX_ERR_NULL_ARG);
    CHECK_STATUS(rpcx_client_options_set_auth_token(co, BAD_UTF8), RPCX_ERR_INVALID_ARG);
    CHECK_STATUS(rpcx_client_options_set_auth_token(NULL, "t"), RPCX_ERR_NULL_ARG);
    CHECK_STATUS(rpcx_client_options_set_limits(co, NULL), RPCX_ERR_NULL_ARG);
    CHECK_STATUS(rpcx_client_options_set_limits(co, &limits), RPCX_ERR_INVALID_ARG);
    rpcx_client_options_free(co);
    rpcx_client_options_free(NULL);

    CHECK_STATUS(rpcx_runtime_set_worker_threads(0), RPCX_ERR_INVALID_ARG);
}

static void test_server_errors(void) {
    rpcx_server *server = NULL;
    CHECK_STATUS(rpcx_server_new(NULL, NULL), RPCX_ERR_NULL_ARG);
    CHECK_OK(rpcx_server_new(NULL, &server));

    /* Registration failures run the finalizer once, before returning. */
    int f = atomic_load(&finalized);
    CHECK_STATUS(rpcx_server_register(NULL, "S", "M", on_echo, NULL, count_finalizer),
                 RPCX_ERR_NULL_ARG);
    CHECK_STATUS(rpcx_server_register(server, NULL, "M", on_echo, NULL, count_finalizer),
                 RPCX_ERR_NULL_ARG);
    CHECK_STATUS(rpcx_server_register(server, "S", NULL, on_echo, NULL, count_finalizer),
                 RPCX_ERR_NULL_ARG);
    CHECK_STATUS(rpcx_server_register(server, "S", "M", NULL, NULL, count_finalizer),
                 RPCX_ERR_NULL_ARG);
    CHECK_STATUS(rpcx_server_register(server, BAD_UTF8, "M", on_echo, NULL, count_finalizer),
                 RPCX_ERR_INVALID_ARG);
    CHECK_STATUS(rpcx_server_register(server, "", "M", on_echo, NULL, count_finalizer),
                 RPCX_ERR_INVALID_ARG);
    CHECK_STATUS(rpcx_server_set_auth(NULL, NULL, NULL, count_finalizer), RPCX_ERR_NULL_ARG);
    CHECK_STATUS(rpcx_server_set_auth(server, NULL, NULL, count_finalizer), RPCX_ERR_NULL_ARG);
    CHECK(atomic_load(&finalized) == f + 8);
    CHECK_STATUS(rpcx_server_register(server, "S", "M", on_echo, NULL, NULL), RPCX_OK);

    rpcx_error *err = NULL;
    CHECK_STATUS(rpcx_server_start(NULL, "tcp@127.0.0.1:0", NULL, NULL), RPCX_ERR_NULL_ARG);
    CHECK_STATUS(rpcx_server_start(server, NULL, NULL, NULL), RPCX_ERR_NULL_ARG);
    CHECK_STATUS(rpcx_server_start(server, BAD_UTF8, NULL, NULL), RPCX_ERR_INVALID_ARG);
    CHECK_STATUS(rpcx_server_start(server, "quic@127.0.0.1:0", NULL, &err), RPCX_ERR_ADDRESS);
    CHECK(strlen(rpcx_error_message(err, NULL)) > 0);
    rpcx_error_free(err);

    uint16_t port = 0;
    CHECK_OK(rpcx_server_start(server, "tcp@127.0.0.1:0", &port, NULL));
    char addr[64];
    snprintf(addr, sizeof addr, "tcp@127.0.0.1:%u", (unsigned)port);

    /* The port is taken: a second server fails with an I/O error, and may retry elsewhere. */
    rpcx_server *other = NULL;
    CHECK_OK(rpcx_server_new(NULL, &other));
    err = NULL;
    uint16_t other_port = 0;
    CHECK_STATUS(rpcx_server_start(other, addr, &other_port, &err), RPCX_ERR_IO);
    CHECK(other_port == 0);
    rpcx_error_free(err);
    CHECK_OK(rpcx_server_start(other, "tcp@127.0.0.1:0", &other_port, NULL));
    rpcx_server_free(other);

    /* Started: registration is live (test_live_register.c); no auth or second start. */
    f = atomic_load(&finalized);
    CHECK_OK(rpcx_server_register(server, "S", "N", on_echo, NULL, count_finalizer));
    CHECK_STATUS(rpcx_server_set_auth(server, on_auth, NULL, count_finalizer),
                 RPCX_ERR_INVALID_STATE);
    CHECK(atomic_load(&finalized) == f + 1);
    CHECK_STATUS(rpcx_server_start(server, "tcp@127.0.0.1:0", NULL, NULL), RPCX_ERR_INVALID_STATE);
    CHECK_STATUS(rpcx_server_shutdown(NULL, 0), RPCX_ERR_NULL_ARG);
    CHECK_STATUS(rpcx_server_close(NULL), RPCX_ERR_NULL_ARG);
    CHECK(rpcx_server_address(NULL) == NULL);
    CHECK_OK(rpcx_server_shutdown(server, 0));
    CHECK_STATUS(rpcx_server_start(server, "tcp@127.0.0.1:0", NULL, NULL), RPCX_ERR_INVALID_STATE);
    rpcx_server_free(server);
    rpcx_server_free(NULL);

    /* Shut down before starting: it never starts. */
    CHECK_OK(rpcx_server_new(NULL, &server));
    CHECK_OK(rpcx_server_shutdown(server, 0));
    CHECK_STATUS(rpcx_server_start(server, "tcp@127.0.0.1:0", NULL, NULL), RPCX_ERR_INVALID_STATE);
    CHECK_STATUS(rpcx_server_register(server, "S", "M", on_echo, NULL, NULL), RPCX_ERR_INVALID_STATE);
    rpcx_server_free(server);
}

static void test_client_errors(void) {
    static _Atomic(rpcx_responder *) slow_slot;
    rpcx_server *server = NULL;
    CHECK_OK(rpcx_server_new(NULL, &server));
    CHECK_OK(rpcx_server_register(server, "S", "Echo", on_echo, NULL, NULL));
    CHECK_OK(rpcx_server_register(server, "S", "Slow", on_slow, (void *)&slow_slot, NULL));
    CHECK_OK(rpcx_server_register(server, "S", "Bad", on_bad_reply, NULL, NULL));
    CHECK_OK(rpcx_server_register(server, "S", "Null", on_null_request, NULL, NULL));
    uint16_t port = 0;
    CHECK_OK(rpcx_server_start(server, "tcp@127.0.0.1:0", &port, NULL));
    char addr[64];
    snprintf(addr, sizeof addr, "tcp@127.0.0.1:%u", (unsigned)port);

    /* Connect errors. */
    rpcx_client *client = NULL;
    rpcx_error *err = NULL;
    CHECK_STATUS(rpcx_client_connect(addr, NULL, NULL, NULL), RPCX_ERR_NULL_ARG);
    CHECK_STATUS(rpcx_client_connect(BAD_UTF8, NULL, &client, NULL), RPCX_ERR_INVALID_ARG);
    CHECK_STATUS(rpcx_client_connect("bogus@x", NULL, &client, &err), RPCX_ERR_ADDRESS);
    rpcx_error_free(err);
    err = NULL;
    /* Port 1 on loopback: nothing listens there. */
    CHECK_STATUS(rpcx_client_connect("tcp@127.0.0.1:1", NULL, &client, &err), RPCX_ERR_CONNECTION);
    CHECK(strstr(rpcx_error_message(err, NULL), "127.0.0.1:1") != NULL);
    rpcx_error_free(err);
    CHECK(client == NULL);

    CHECK_OK(test_connect(addr, &client, NULL));

    /* NULL / invalid arguments of calls. */
    uint8_t byte = 1;
    CHECK_STATUS(rpcx_client_call(NULL, "S", "Echo", NULL, 0, NULL, 0, NULL, NULL, NULL),
                 RPCX_ERR_NULL_ARG);
    CHECK_STATUS(rpcx_client_call(client, NULL, "Echo", NULL, 0, NULL, 0, NULL, NULL, NULL),
                 RPCX_ERR_NULL_ARG);
    CHECK_STATUS(rpcx_client_call(client, "S", NULL, NULL, 0, NULL, 0, NULL, NULL, NULL),
                 RPCX_ERR_NULL_ARG);
    CHECK_STATUS(rpcx_client_call(client, "S", "Echo", NULL, 1, NULL, 0, NULL, NULL, NULL),
                 RPCX_ERR_NULL_ARG);
    CHECK_STATUS(rpcx_client_call(client, BAD_UTF8, "Echo", &byte, 1, NULL, 0, NULL, NULL, NULL),
                 RPCX_ERR_INVALID_ARG);
    CHECK_STATUS(rpcx_client_call(client, "S", BAD_UTF8, &byte, 1, NULL, 0, NULL, NULL, NULL),
                 RPCX_ERR_INVALID_ARG);
    CHECK_STATUS(rpcx_client_send(NULL, "S", "Echo", NULL, 0, NULL, NULL), RPCX_ERR_NULL_ARG);
    CHECK_STATUS(rpcx_client_send(client, NULL, "Echo", NULL, 0, NULL, NULL), RPCX_ERR_NULL_ARG);
    CHECK_STATUS(rpcx_client_send(client, "S", "Echo", NULL, 5, NULL, NULL), RPCX_ERR_NULL_ARG);
    uint64_t id = 99;
    CHECK_STATUS(rpcx_client_call_async(client, "S", "Echo", NULL, 0, NULL, 0, NULL, NULL, &id),
                 RPCX_ERR_NULL_ARG);
    CHECK_STATUS(rpcx_client_call_async(NULL, "S", "Echo", NULL, 0, NULL, 0, NULL, NULL, &id),
                 RPCX_ERR_NULL_ARG);
    CHECK(id == 99);
    CHECK_STATUS(rpcx_client_cancel(NULL, 1), RPCX_ERR_NULL_ARG);
    CHECK_STATUS(rpcx_client_cancel(client, 12345), RPCX_ERR_NOT_FOUND);
    CHECK(rpcx_client_pending(NULL) == 0);
    CHECK_STATUS(rpcx_client_close(NULL), RPCX_ERR_NULL_ARG);

    /* Responder argument errors leave it pending; double completion is refused. */
    err = NULL;
    CHECK_STATUS(rpcx_client_call(client, "S", "Bad", NULL, 0, NULL, 0, NULL, NULL, &err),
                 RPCX_ERR_SERVER);
    CHECK_STR(rpcx_error_message(err, NULL), "still pending");
    rpcx_error_free(err);
    CHECK_OK(rpcx_client_call(client, "S", "Null", NULL, 0, NULL, 0, NULL, NULL, NULL));

    /* Timeout: the handler keeps the responder past the deadline. */
    err = NULL;
    long t0 = now_ms();
    CHECK_STATUS(rpcx_client_call(client, "S", "Slow", NULL, 0, NULL, 100, NULL, NULL, &err),
                 RPCX_ERR_TIMEOUT);
    CHECK(now_ms() - t0 >= 90);
    CHECK(rpcx_error_code(err) == RPCX_ERR_TIMEOUT);
    rpcx_error_free(err);
    rpcx_responder *late = NULL;
    for (long end = now_ms() + 30000; (late = atomic_load(&slow_slot)) == NULL && now_ms() < end;) {
        sleep_ms(1);
    }
    CHECK(late != NULL);
    /* The server abandons the call at the same deadline (__ServerTimeout), measured from
     * when the request arrived: a reply now is refused, or (if the server's deadline has not
     * fired yet) accepted and dropped by the client. Completing it again is always refused. */
    rpcx_status first = rpcx_responder_reply(late, NULL, 0, NULL);
    CHECK(first == RPCX_OK || first == RPCX_ERR_INVALID_STATE);
    CHECK_STATUS(rpcx_responder_reply(late, NULL, 0, NULL), RPCX_ERR_INVALID_STATE);

    /* A frame limit on the client side: a large reply breaks the connection. */
    rpcx_client_options *co = rpcx_client_options_new();
    rpcx_limits limits;
    CHECK_OK(rpcx_limits_init(&limits, sizeof limits));
    limits.max_frame_len = 1024;
    CHECK_OK(rpcx_client_options_set_limits(co, &limits));
    CHECK_OK(rpcx_client_options_set_connect_timeout_ms(co, 10000));
    rpcx_client *small = NULL;
    CHECK_OK(rpcx_client_connect(addr, co, &small, NULL));
    rpcx_client_options_free(co);
    static uint8_t big[4096];
    err = NULL;
    CHECK_STATUS(rpcx_client_call(small, "S", "Echo", big, sizeof big, NULL, 2000, NULL, NULL, &err),
                 RPCX_ERR_CONNECTION);
    CHECK(strstr(rpcx_error_message(err, NULL), "frame") != NULL);
    rpcx_error_free(err);
    rpcx_client_free(small);

    /* Closed client. */
    CHECK_OK(rpcx_client_close(client));
    CHECK_OK(rpcx_client_close(client));
    err = NULL;
    CHECK_STATUS(rpcx_client_call(client, "S", "Echo", NULL, 0, NULL, 0, NULL, NULL, &err),
                 RPCX_ERR_CLOSED);
    rpcx_error_free(err);
    CHECK_STATUS(rpcx_client_send(client, "S", "Echo", NULL, 0, NULL, NULL), RPCX_ERR_CLOSED);
    rpcx_client_free(client);
    rpcx_client_free(NULL);

    /* A server-side frame limit: the oversized request is answered with an error. */
    rpcx_server_options *so = rpcx_server_options_new();
    CHECK_OK(rpcx_limits_init(&limits, sizeof limits));
    limits.max_frame_len = 1024;
    CHECK_OK(rpcx_server_options_set_limits(so, &limits));
    rpcx_server *strict = NULL;
    CHECK_OK(rpcx_server_new(so, &strict));
    rpcx_server_options_free(so);
    CHECK_OK(rpcx_server_register(strict, "S", "Echo", on_echo, NULL, NULL));
    CHECK_OK(rpcx_server_start(strict, "tcp@127.0.0.1:0", &port, NULL));
    snprintf(addr, sizeof addr, "tcp@127.0.0.1:%u", (unsigned)port);
    CHECK_OK(test_connect(addr, &client, NULL));
    err = NULL;
    rpcx_status s = rpcx_client_call(client, "S", "Echo", big, sizeof big, NULL, 30000, NULL, NULL, &err);
    CHECK(s == RPCX_ERR_SERVER || s == RPCX_ERR_CONNECTION);
    CHECK(rpcx_error_code(err) == s);
    rpcx_error_free(err);
    rpcx_client_free(client);
    rpcx_server_free(strict);

    rpcx_server_free(server);
}

int main(void) {
    test_status_strings();
    test_metadata_errors();
    test_error_accessors();
    test_option_errors();
    test_server_errors();
    test_client_errors();
    printf("test_errors: ok\n");
    return 0;
}
