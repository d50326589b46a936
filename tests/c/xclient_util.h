/* Helpers of the XClient tests: named in-process servers ("T.Who" answers the server's name,
 * "T.Echo" echoes, "T.FailOn" fails on servers whose name is the payload, "T.Note" counts
 * oneway requests, "T.Park" keeps its responder until the test releases it) and call
 * shortcuts. */
#ifndef RPCX_XCLIENT_UTIL_H
#define RPCX_XCLIENT_UTIL_H

#include <stdint.h>

#include "testutil.h"

struct named_server {
    char name[16];
    rpcx_server *server;
    char address[64];
    atomic_int calls;
    atomic_int notes;
    _Atomic(rpcx_responder *) parked[8];
    atomic_int parked_count;
};

static inline void ns_who(void *ud, const rpcx_request *req, rpcx_responder *resp) {
    (void)req;
    struct named_server *s = ud;
    atomic_fetch_add(&s->calls, 1);
    CHECK_OK(rpcx_responder_reply(resp, (const uint8_t *)s->name, strlen(s->name), NULL));
}

static inline void ns_echo(void *ud, const rpcx_request *req, rpcx_responder *resp) {
    struct named_server *s = ud;
    atomic_fetch_add(&s->calls, 1);
    size_t len = 0;
    const uint8_t *data = rpcx_request_payload(req, &len);
    CHECK_OK(rpcx_responder_reply(resp, data, len, rpcx_request_metadata(req)));
}

static inline void ns_fail_on(void *ud, const rpcx_request *req, rpcx_responder *resp) {
    struct named_server *s = ud;
    size_t len = 0;
    const uint8_t *data = rpcx_request_payload(req, &len);
    if (len == strlen(s->name) && memcmp(data, s->name, len) == 0) {
        CHECK_OK(rpcx_responder_error(resp, "failing on purpose", NULL, 0));
    } else {
        CHECK_OK(rpcx_responder_reply(resp, (const uint8_t *)s->name, strlen(s->name), NULL));
    }
}

static inline void ns_note(void *ud, const rpcx_request *req, rpcx_responder *resp) {
    (void)req;
    struct named_server *s = ud;
    atomic_fetch_add(&s->notes, 1);
    CHECK_OK(rpcx_responder_reply(resp, NULL, 0, NULL));
}

static inline void ns_park(void *ud, const rpcx_request *req, rpcx_responder *resp) {
    (void)req;
    struct named_server *s = ud;
    int i = atomic_fetch_add(&s->parked_count, 1);
    CHECK(i < 8);
    atomic_store(&s->parked[i], resp);
}

/* Creates and registers (without starting) a named server. */
static inline void ns_create(struct named_server *s, const char *name) {
    memset(s, 0, sizeof *s);
    snprintf(s->name, sizeof s->name, "%s", name);
    CHECK_OK(rpcx_server_new(NULL, &s->server));
    CHECK_OK(rpcx_server_register(s->server, "T", "Who", ns_who, s, NULL));
    CHECK_OK(rpcx_server_register(s->server, "T", "Echo", ns_echo, s, NULL));
    CHECK_OK(rpcx_server_register(s->server, "T", "FailOn", ns_fail_on, s, NULL));
    CHECK_OK(rpcx_server_register(s->server, "T", "Note", ns_note, s, NULL));
    CHECK_OK(rpcx_server_register(s->server, "T", "Park", ns_park, s, NULL));
}

static inline void ns_start(struct named_server *s) {
    rpcx_error *err = NULL;
    uint16_t port = 0;
    CHECK_CALL(rpcx_server_start(s->server, "tcp@127.0.0.1:0", &port, &err), &err);
    snprintf(s->address, sizeof s->address, "tcp@127.0.0.1:%u", (unsigned)port);
}

static inline void ns_release_parked(struct named_server *s) {
    int n = atomic_load(&s->parked_count);
    for (int i = 0; i < n; i++) {
        rpcx_responder_free(atomic_exchange(&s->parked[i], NULL));
    }
}

static inline void ns_free(struct named_server *s) {
    ns_release_parked(s);
    rpcx_server_free(s->server);
    s->server = NULL;
}

/* Options with a generous connect timeout (valgrind, sanitizers, parallel CI). */
static inline rpcx_xclient_options *xopts(int select_mode, int fail_mode) {
    rpcx_xclient_options *o = rpcx_xclient_options_new();
    CHECK(o != NULL);
    rpcx_client_options *co = rpcx_client_options_new();
    CHECK(co != NULL);
    CHECK_OK(rpcx_client_options_set_connect_timeout_ms(co, 10000));
    CHECK_OK(rpcx_xclient_options_set_client_options(o, co));
    rpcx_client_options_free(co);
    CHECK_OK(rpcx_xclient_options_set_select_mode(o, select_mode));
    CHECK_OK(rpcx_xclient_options_set_fail_mode(o, fail_mode));
    return o;
}

/* Calls T.<method>(payload) and copies the reply into out (NUL-terminated); returns the
 * status (the error, if any, is printed when `verbose`). */
static inline rpcx_status xcall(rpcx_xclient *xc, const char *method, const char *payload, char *out,
                         size_t cap, int verbose) {
    rpcx_buf reply = empty_buf();
    rpcx_error *err = NULL;
    rpcx_status s = rpcx_xclient_call(xc, method, (const uint8_t *)payload, strlen(payload),
                                      NULL, 0, &reply, NULL, &err);
    if (s == RPCX_OK) {
        size_t n = reply.len < cap - 1 ? reply.len : cap - 1;
        if (n > 0) {
            memcpy(out, reply.data, n);
        }
        out[n] = 0;
        rpcx_buf_free(&reply);
    } else {
        if (verbose) {
            fprintf(stderr, "xcall %s: %s: %s\n", method, rpcx_status_str((int)s),
                    err_text(err));
        }
        CHECK(rpcx_error_code(err) == s);
        rpcx_error_free(err);
    }
    return s;
}

/* Waits until `count()` of `what` is `n` (the test fails after `timeout_ms`). */
#define WAIT_COUNT(count, what, n, timeout_ms)                                            \
    do {                                                                                  \
        long end_ = now_ms() + (timeout_ms);                                              \
        while (count(what) != (n)) {                                                      \
            if (now_ms() > end_) {                                                        \
                fprintf(stderr, "timed out waiting for %zu servers (have %zu)\n",         \
                        (size_t)(n), (size_t)count(what));                                \
                exit(1);                                                                  \
            }                                                                             \
            sleep_ms(10);                                                                 \
        }                                                                                 \
    } while (0)

/* Waits until the XClient uses `n` servers. */
static inline void wait_servers(rpcx_xclient *xc, size_t n, long timeout_ms) {
    WAIT_COUNT(rpcx_xclient_server_count, xc, n, timeout_ms);
}

/* Waits until the discovery lists `n` servers. */
static inline void wait_len(rpcx_discovery *d, size_t n, long timeout_ms) {
    WAIT_COUNT(rpcx_discovery_len, d, n, timeout_ms);
}

#endif
