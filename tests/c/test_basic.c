/* C server <-> C client: payloads, metadata both ways, serialize types, gzip, heartbeats,
 * remote errors (text, payload, metadata), unknown names, oneway sends, auth, Unix sockets,
 * finalizers, and the runtime refusing blocking calls inside a handler. */
#define _POSIX_C_SOURCE 200809L
#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdint.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <unistd.h>

#include "testutil.h"

static atomic_int finalized;
static atomic_int notes;
static rpcx_client *g_client; /* used from the Nested handler */

static void count_finalizer(void *userdata) {
    (void)userdata;
    atomic_fetch_add(&finalized, 1);
}

/* Echoes the payload; reply metadata reports what the handler saw. */
static void on_echo(void *userdata, const rpcx_request *req, rpcx_responder *resp) {
    CHECK(userdata == (void *)&finalized);
    size_t len = 0;
    const uint8_t *data = rpcx_request_payload(req, &len);
    CHECK(len == 0 || data != NULL);
    rpcx_metadata *out = rpcx_metadata_new();
    const rpcx_metadata *in = rpcx_request_metadata(req);
    for (size_t i = 0; i < rpcx_metadata_len(in); i++) {
        const char *k = NULL, *v = NULL;
        CHECK_OK(rpcx_metadata_at(in, i, &k, &v));
        char key[256];
        snprintf(key, sizeof key, "seen-%s", k);
        CHECK_OK(rpcx_metadata_set(out, key, v));
    }
    char st[8];
    snprintf(st, sizeof st, "%u", (unsigned)rpcx_request_serialize_type(req));
    CHECK_OK(rpcx_metadata_set(out, "serialize", st));
    CHECK_OK(rpcx_metadata_set(out, "service", rpcx_request_service(req)));
    CHECK_OK(rpcx_metadata_set(out, "method", rpcx_request_method(req)));
    CHECK_OK(rpcx_metadata_set(out, "peer", rpcx_request_peer(req)));
    CHECK_OK(rpcx_responder_reply(resp, data, len, out));
    rpcx_metadata_free(out);
}

static void on_fail(void *userdata, const rpcx_request *req, rpcx_responder *resp) {
    (void)userdata;
    size_t len = 0;
    const uint8_t *data = rpcx_request_payload(req, &len);
    char msg[128];
    snprintf(msg, sizeof msg, "boom: %.*s", (int)len, data ? (const char *)data : "");
    static const uint8_t zero[] = {'{', '"', 'C', '"', ':', '0', '}'};
    CHECK_OK(rpcx_responder_error(resp, msg, zero, sizeof zero));
}

static void on_release(void *userdata, const rpcx_request *req, rpcx_responder *resp) {
    (void)userdata;
    (void)req;
    rpcx_responder_free(resp);
}

static void on_note(void *userdata, const rpcx_request *req, rpcx_responder *resp) {
    (void)userdata;
    (void)req;
    atomic_fetch_add(&notes, 1);
    /* A oneway request still takes a responder; its reply is simply not sent. */
    CHECK_OK(rpcx_responder_reply(resp, NULL, 0, NULL));
}

/* Blocking rpcx calls are refused on runtime threads, without deadlocking. */
static void on_nested(void *userdata, const rpcx_request *req, rpcx_responder *resp) {
    (void)req;
    rpcx_server *server = userdata;
    rpcx_error *err = NULL;
    CHECK_STATUS(rpcx_client_call(g_client, "Echo", "Echo", NULL, 0, NULL, 0, NULL, NULL, &err),
                 RPCX_ERR_BLOCKING_IN_RUNTIME);
    CHECK(rpcx_error_code(err) == RPCX_ERR_BLOCKING_IN_RUNTIME);
    rpcx_error_free(err);
    CHECK_STATUS(rpcx_client_send(g_client, "Echo", "Note", NULL, 0, NULL, NULL),
                 RPCX_ERR_BLOCKING_IN_RUNTIME);
    CHECK_STATUS(rpcx_server_shutdown(server, 0), RPCX_ERR_BLOCKING_IN_RUNTIME);
    rpcx_client *c = NULL;
    CHECK_STATUS(rpcx_client_connect("tcp@127.0.0.1:1", NULL, &c, NULL),
                 RPCX_ERR_BLOCKING_IN_RUNTIME);
    CHECK(c == NULL);
    static const char text[] = "refused";
    CHECK_OK(rpcx_responder_reply(resp, (const uint8_t *)text, sizeof text - 1, NULL));
}

static int auth_calls;
static int on_auth(void *userdata, const char *service, const char *method, const char *token,
                   const char *peer, char *message, size_t cap) {
    (void)userdata;
    CHECK(service != NULL && method != NULL && peer != NULL && token != NULL);
    CHECK(strncmp(peer, "tcp@127.0.0.1:", 14) == 0);
    if (strcmp(token, "secret") == 0) {
        return 1;
    }
    snprintf(message, cap, "bad token '%s' for %s.%s", token, service, method);
    return 0;
}

static void auth_finalizer(void *userdata) {
    *(int *)userdata += 100;
}

static rpcx_server *start_server(uint16_t *port) {
    rpcx_server_options *opts = rpcx_server_options_new();
    CHECK(opts != NULL);
    rpcx_limits limits;
    CHECK_OK(rpcx_limits_init(&limits, sizeof limits));
    CHECK(limits.max_frame_len == 16u << 20);
    limits.max_metadata_entries = 64;
    CHECK_OK(rpcx_server_options_set_limits(opts, &limits));
    CHECK_OK(rpcx_server_options_set_max_inflight(opts, 128));
    CHECK_OK(rpcx_server_options_set_max_connections(opts, 64));
    CHECK_OK(rpcx_server_options_set_max_pending_bytes_per_conn(opts, 1u << 20));
    CHECK_OK(rpcx_server_options_set_max_pending_bytes(opts, 64u << 20));
    CHECK_OK(rpcx_server_options_set_idle_timeout_ms(opts, 60000));
    rpcx_server *server = NULL;
    CHECK_OK(rpcx_server_new(opts, &server));
    rpcx_server_options_free(opts);
    CHECK(rpcx_server_address(server) == NULL);

    void *ud = &finalized;
    CHECK_OK(rpcx_server_register(server, "Echo", "Echo", on_echo, ud, count_finalizer));
    CHECK_OK(rpcx_server_register(server, "Echo", "Fail", on_fail, ud, count_finalizer));
    CHECK_OK(rpcx_server_register(server, "Echo", "Release", on_release, ud, count_finalizer));
    CHECK_OK(rpcx_server_register(server, "Echo", "Note", on_note, ud, count_finalizer));
    CHECK_OK(rpcx_server_register(server, "Echo", "Nested", on_nested, server, count_finalizer));
    /* Replacing a handler finalizes the previous one at once. */
    int before = atomic_load(&finalized);
    CHECK_OK(rpcx_server_register(server, "Echo", "Note", on_note, ud, count_finalizer));
    CHECK(atomic_load(&finalized) == before + 1);

    rpcx_error *err = NULL;
    CHECK_CALL(rpcx_server_start(server, "tcp@127.0.0.1:0", port, &err), &err);
    CHECK(*port != 0);
    char want[64];
    snprintf(want, sizeof want, "tcp@127.0.0.1:%u", (unsigned)*port);
    CHECK_STR(rpcx_server_address(server), want);
    return server;
}

static void test_echo_and_metadata(rpcx_client *client) {
    rpcx_metadata *meta = rpcx_metadata_new();
    CHECK_OK(rpcx_metadata_set(meta, "trace", "abc-123"));
    CHECK_OK(rpcx_metadata_set(meta, "empty", ""));
    CHECK_OK(rpcx_metadata_set(meta, "trace", "abc-124")); /* replaces */
    CHECK(rpcx_metadata_len(meta) == 2);

    static const char payload[] = "{\"A\":7,\"B\":8}";
    rpcx_buf reply = empty_buf();
    rpcx_metadata *reply_meta = NULL;
    rpcx_error *err = NULL;
    CHECK_CALL(rpcx_client_call(client, "Echo", "Echo", (const uint8_t *)payload,
                                sizeof payload - 1, meta, 30000, &reply, &reply_meta, &err),
               &err);
    CHECK(err == NULL);
    CHECK(reply.len == sizeof payload - 1);
    CHECK(memcmp(reply.data, payload, reply.len) == 0);
    CHECK_STR(meta_get(reply_meta, "seen-trace"), "abc-124");
    CHECK_STR(meta_get(reply_meta, "seen-empty"), "");
    /* The call's timeout travels as __ServerTimeout. */
    CHECK(meta_get(reply_meta, "seen-__ServerTimeout") != NULL);
    CHECK_STR(meta_get(reply_meta, "serialize"), "1"); /* JSON, from the client options */
    CHECK_STR(meta_get(reply_meta, "service"), "Echo");
    CHECK_STR(meta_get(reply_meta, "method"), "Echo");
    CHECK(strncmp(meta_get(reply_meta, "peer"), "tcp@127.0.0.1:", 14) == 0);
    CHECK(meta_get(reply_meta, "absent") == NULL);
    /* Entries come in key order. */
    const char *prev = "";
    for (size_t i = 0; i < rpcx_metadata_len(reply_meta); i++) {
        const char *k = NULL;
        CHECK_OK(rpcx_metadata_at(reply_meta, i, &k, NULL));
        CHECK(strcmp(prev, k) < 0);
        prev = k;
    }
    rpcx_metadata *copy = rpcx_metadata_clone(reply_meta);
    CHECK(rpcx_metadata_len(copy) == rpcx_metadata_len(reply_meta));
    rpcx_metadata_free(copy);
    rpcx_buf_free(&reply);
    CHECK(reply.data == NULL && reply.len == 0 && reply.owner == NULL);
    rpcx_buf_free(&reply); /* no-op */
    rpcx_metadata_free(reply_meta);
    rpcx_metadata_free(meta);

    /* Empty payload, no metadata, nothing requested back. */
    CHECK_OK(rpcx_client_call(client, "Echo", "Echo", NULL, 0, NULL, 0, NULL, NULL, NULL));
    reply = empty_buf();
    CHECK_OK(rpcx_client_call(client, "Echo", "Echo", NULL, 0, NULL, 0, &reply, NULL, NULL));
    CHECK(reply.len == 0);
    rpcx_buf_free(&reply);

    /* 1 MiB of binary data both ways (gzip is on for this client); less under valgrind. */
    size_t big_len = getenv("RPCX_UNDER_VALGRIND") ? 64u << 10 : 1u << 20;
    uint8_t *big = malloc(big_len);
    CHECK(big != NULL);
    for (size_t i = 0; i < big_len; i++) {
        big[i] = (uint8_t)(i * 31u + (i >> 8));
    }
    CHECK_OK(rpcx_client_call(client, "Echo", "Echo", big, big_len, NULL, 30000, &reply, NULL,
                              NULL));
    CHECK(reply.len == big_len && memcmp(reply.data, big, big_len) == 0);
    rpcx_buf_free(&reply);
    free(big);
}

static void test_remote_errors(rpcx_client *client) {
    rpcx_error *err = NULL;
    rpcx_buf reply = empty_buf();
    rpcx_metadata *reply_meta = NULL;
    CHECK_STATUS(rpcx_client_call(client, "Echo", "Fail", (const uint8_t *)"x7", 2, NULL, 0, &reply,
                                  &reply_meta, &err),
                 RPCX_ERR_SERVER);
    /* Out-parameters are untouched on failure. */
    CHECK(reply.data == NULL && reply_meta == NULL);
    CHECK(rpcx_error_code(err) == RPCX_ERR_SERVER);
    size_t len = 0;
    CHECK_STR(rpcx_error_message(err, &len), "boom: x7");
    CHECK(len == 8);
    const uint8_t *p = rpcx_error_payload(err, &len);
    CHECK(len == 7 && memcmp(p, "{\"C\":0}", 7) == 0);
    CHECK_STR(meta_get(rpcx_error_metadata(err), "__rpcx_error__"), "boom: x7");
    rpcx_error_free(err);

    err = NULL;
    CHECK_STATUS(rpcx_client_call(client, "Nope", "Echo", NULL, 0, NULL, 0, NULL, NULL, &err),
                 RPCX_ERR_SERVER);
    CHECK_STR(rpcx_error_message(err, NULL), "rpcx: can't find service Nope");
    CHECK(rpcx_error_payload(err, &len) == NULL && len == 0);
    rpcx_error_free(err);

    err = NULL;
    CHECK_STATUS(rpcx_client_call(client, "Echo", "Nope", NULL, 0, NULL, 0, NULL, NULL, &err),
                 RPCX_ERR_SERVER);
    CHECK_STR(rpcx_error_message(err, NULL), "rpcx: can't find method Nope");
    rpcx_error_free(err);

    err = NULL;
    CHECK_STATUS(rpcx_client_call(client, "Echo", "Release", NULL, 0, NULL, 0, NULL, NULL, &err),
                 RPCX_ERR_SERVER);
    CHECK_STR(rpcx_error_message(err, NULL), "rpcx: handler released the call without replying");
    rpcx_error_free(err);

    reply = empty_buf();
    CHECK_OK(rpcx_client_call(client, "Echo", "Nested", NULL, 0, NULL, 0, &reply, NULL, NULL));
    CHECK(reply.len == 7 && memcmp(reply.data, "refused", 7) == 0);
    rpcx_buf_free(&reply);
}

static void test_oneway(rpcx_client *client) {
    int before = atomic_load(&notes);
    for (int i = 0; i < 10; i++) {
        CHECK_OK(rpcx_client_send(client, "Echo", "Note", (const uint8_t *)"n", 1, NULL, NULL));
    }
    wait_for(&notes, before + 10, 30000, "oneway notes");
}

static void test_auth(void) {
    int auth_state = 0;
    rpcx_server *server = NULL;
    CHECK_OK(rpcx_server_new(NULL, &server));
    CHECK_OK(rpcx_server_register(server, "Echo", "Echo", on_echo, &finalized, count_finalizer));
    CHECK_OK(rpcx_server_set_auth(server, on_auth, &auth_state, auth_finalizer));
    /* Replacing the auth callback finalizes the previous one. */
    CHECK_OK(rpcx_server_set_auth(server, on_auth, &auth_state, auth_finalizer));
    CHECK(auth_state == 100);
    uint16_t port = 0;
    CHECK_OK(rpcx_server_start(server, "127.0.0.1:0", &port, NULL));
    char addr[64];
    snprintf(addr, sizeof addr, "tcp@127.0.0.1:%u", (unsigned)port);

    rpcx_client_options *opts = rpcx_client_options_new();
    CHECK_OK(rpcx_client_options_set_connect_timeout_ms(opts, 10000));
    CHECK_OK(rpcx_client_options_set_auth_token(opts, "secret"));
    rpcx_client *good = NULL;
    CHECK_OK(rpcx_client_connect(addr, opts, &good, NULL));
    CHECK_OK(rpcx_client_call(good, "Echo", "Echo", NULL, 0, NULL, 0, NULL, NULL, NULL));

    CHECK_OK(rpcx_client_options_set_auth_token(opts, "wrong"));
    rpcx_client *bad = NULL;
    CHECK_OK(rpcx_client_connect(addr, opts, &bad, NULL));
    rpcx_error *err = NULL;
    CHECK_STATUS(rpcx_client_call(bad, "Echo", "Echo", NULL, 0, NULL, 0, NULL, NULL, &err),
                 RPCX_ERR_SERVER);
    CHECK_STR(rpcx_error_message(err, NULL), "bad token 'wrong' for Echo.Echo");
    rpcx_error_free(err);

    CHECK_OK(rpcx_client_options_set_auth_token(opts, NULL));
    rpcx_client *none = NULL;
    CHECK_OK(rpcx_client_connect(addr, opts, &none, NULL));
    err = NULL;
    CHECK_STATUS(rpcx_client_call(none, "Echo", "Echo", NULL, 0, NULL, 0, NULL, NULL, &err),
                 RPCX_ERR_SERVER);
    CHECK_STR(rpcx_error_message(err, NULL), "bad token '' for Echo.Echo");
    rpcx_error_free(err);

    rpcx_client_options_free(opts);
    rpcx_client_free(good);
    rpcx_client_free(bad);
    rpcx_client_free(none);
    CHECK_OK(rpcx_server_shutdown(server, 1000));
    CHECK(auth_state == 100);
    rpcx_server_free(server);
    CHECK(auth_state == 200);
    (void)auth_calls;
}

static void test_unix_socket(void) {
    char path[128], addr[160];
    snprintf(path, sizeof path, "/tmp/rpcx-c-test-%ld.sock", (long)getpid());
    snprintf(addr, sizeof addr, "unix@%s", path);
    unlink(path);
    rpcx_server *server = NULL;
    CHECK_OK(rpcx_server_new(NULL, &server));
    CHECK_OK(rpcx_server_register(server, "Echo", "Echo", on_echo, &finalized, NULL));
    uint16_t port = 1234;
    CHECK_OK(rpcx_server_start(server, addr, &port, NULL));
    CHECK(port == 0);
    CHECK_STR(rpcx_server_address(server), addr);
    rpcx_client *client = NULL;
    CHECK_OK(test_connect(addr, &client, NULL));
    rpcx_buf reply = empty_buf();
    rpcx_metadata *md = NULL;
    CHECK_OK(rpcx_client_call(client, "Echo", "Echo", (const uint8_t *)"u", 1, NULL, 0, &reply, &md,
                              NULL));
    CHECK(reply.len == 1 && reply.data[0] == 'u');
    CHECK_STR(meta_get(md, "serialize"), "0"); /* default client options: raw */
    rpcx_buf_free(&reply);
    rpcx_metadata_free(md);
    rpcx_client_free(client);
    rpcx_server_free(server);
    unlink(path);
}

/* A server that never reads: with max_unsent_bytes 1 MiB, 1 MiB oneway sends wait for room
 * and time out (the client's 300 ms timeout) long before the 4096-message queue would fill. */
static void test_unsent_budget(void) {
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    CHECK(fd >= 0);
    struct sockaddr_in a;
    memset(&a, 0, sizeof a);
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    CHECK(bind(fd, (struct sockaddr *)&a, sizeof a) == 0);
    CHECK(listen(fd, 4) == 0); /* the kernel accepts; nobody reads */
    socklen_t len = sizeof a;
    CHECK(getsockname(fd, (struct sockaddr *)&a, &len) == 0);
    char addr[64];
    snprintf(addr, sizeof addr, "tcp@127.0.0.1:%u", (unsigned)ntohs(a.sin_port));

    rpcx_client_options *opts = rpcx_client_options_new();
    CHECK_STATUS(rpcx_client_options_set_max_unsent_bytes(opts, 0), RPCX_ERR_INVALID_ARG);
    CHECK_STATUS(rpcx_client_options_set_max_unsent_bytes(NULL, 1), RPCX_ERR_NULL_ARG);
    CHECK_OK(rpcx_client_options_set_max_unsent_bytes(opts, 1 << 20));
    CHECK_OK(rpcx_client_options_set_timeout_ms(opts, 300));
    rpcx_client *c = NULL;
    rpcx_error *err = NULL;
    CHECK_CALL(rpcx_client_connect(addr, opts, &c, &err), &err);
    rpcx_client_options_free(opts);
    size_t mib = 1 << 20;
    uint8_t *payload = calloc(1, mib);
    CHECK(payload != NULL);
    int queued = 0;
    rpcx_status st = RPCX_OK;
    for (int i = 0; i < 200 && st == RPCX_OK; i++) {
        st = rpcx_client_send(c, "Echo", "Echo", payload, mib, NULL, NULL);
        queued += st == RPCX_OK;
    }
    CHECK(st == RPCX_ERR_TIMEOUT);
    CHECK(queued < 64); /* socket buffers take a few MiB; the queue at most one */
    free(payload);
    rpcx_client_free(c);
    close(fd);
}

int main(void) {
    CHECK_OK(rpcx_runtime_set_worker_threads(2));
    CHECK(strlen(rpcx_version()) > 0);
    uint16_t port = 0;
    rpcx_server *server = start_server(&port);
    /* The runtime is running now: its size is fixed. */
    CHECK_STATUS(rpcx_runtime_set_worker_threads(4), RPCX_ERR_INVALID_STATE);

    char addr[64];
    snprintf(addr, sizeof addr, "tcp@127.0.0.1:%u", (unsigned)port);
    rpcx_client_options *opts = rpcx_client_options_new();
    CHECK_OK(rpcx_client_options_set_serialize_type(opts, RPCX_SERIALIZE_JSON));
    CHECK_OK(rpcx_client_options_set_timeout_ms(opts, 30000));
    CHECK_OK(rpcx_client_options_set_connect_timeout_ms(opts, 10000));
    CHECK_OK(rpcx_client_options_set_gzip(opts, true));
    CHECK_OK(rpcx_client_options_set_heartbeat(opts, 20, 0)); /* 0: the 30 s default wait */
    rpcx_limits limits;
    CHECK_OK(rpcx_limits_init(&limits, sizeof limits));
    CHECK_OK(rpcx_client_options_set_limits(opts, &limits));
    rpcx_error *err = NULL;
    CHECK_CALL(rpcx_client_connect(addr, opts, &g_client, &err), &err);
    rpcx_client_options_free(opts);

    test_echo_and_metadata(g_client);
    test_remote_errors(g_client);
    test_oneway(g_client);
    /* Heartbeats every 20 ms are answered: the connection stays usable. */
    sleep_ms(120);
    CHECK_OK(rpcx_client_call(g_client, "Echo", "Echo", NULL, 0, NULL, 0, NULL, NULL, NULL));
    test_auth();
    test_unix_socket();
    test_unsent_budget();

    rpcx_client_free(g_client);
    int before = atomic_load(&finalized);
    CHECK_OK(rpcx_server_shutdown(server, 1000));
    CHECK_OK(rpcx_server_shutdown(server, 1000)); /* idempotent */
    rpcx_server_free(server);
    /* Five registered handlers, each finalized exactly once, by the free. */
    CHECK(atomic_load(&finalized) == before + 5);
    printf("test_basic: ok\n");
    return 0;
}
