/* HTTP on the rpcx port from C: a C server (Arith.Mul as a C callback) with the default
 * options answers an HTTP gateway POST and JSON-RPC 2.0 POSTs sent over a raw socket, and C
 * clients reach it through http@ (CONNECT) and ws@ (WebSocket) addresses; a server started at
 * a ws@ address reports it; servers with the HTTP services turned off close or refuse what
 * they no longer serve; CORS (allow-all and explicit lists) answers preflights; the request
 * limits close oversized heads; bad option values are refused with a clear status. */
#define _POSIX_C_SOURCE 200809L
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdint.h>
#include <stdlib.h>
#include <strings.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

#include "testutil.h"

/* Every wait on a socket is bounded by this. */
#define READ_TIMEOUT_S 30

/* Arith.Mul over JSON: {"A":a,"B":b} -> {"C":a*b}. Runs on an rpcx runtime thread. */
static void on_mul(void *userdata, const rpcx_request *req, rpcx_responder *resp) {
    (void)userdata;
    size_t len = 0;
    const uint8_t *data = rpcx_request_payload(req, &len);
    char text[256];
    long long a = 0, b = 0;
    if (data == NULL || len == 0 || len >= sizeof text) {
        CHECK_OK(rpcx_responder_error(resp, "expected {\"A\":int,\"B\":int}", NULL, 0));
        return;
    }
    memcpy(text, data, len);
    text[len] = '\0';
    if (sscanf(text, " { \"A\" : %lld , \"B\" : %lld }", &a, &b) != 2) {
        CHECK_OK(rpcx_responder_error(resp, "expected {\"A\":int,\"B\":int}", NULL, 0));
        return;
    }
    char out[64];
    int n = snprintf(out, sizeof out, "{\"C\":%lld}", a * b);
    CHECK_OK(rpcx_responder_reply(resp, (const uint8_t *)out, (size_t)n, NULL));
}

/* A server with `opts` (NULL: defaults) serving Arith.Mul at `address`. */
static rpcx_server *start(const rpcx_server_options *opts, const char *address, uint16_t *port) {
    rpcx_server *server = NULL;
    CHECK_OK(rpcx_server_new(opts, &server));
    CHECK_OK(rpcx_server_register(server, "Arith", "Mul", on_mul, NULL, NULL));
    rpcx_error *err = NULL;
    CHECK_CALL(rpcx_server_start(server, address, port, &err), &err);
    CHECK(*port != 0);
    return server;
}

static void stop(rpcx_server *server) {
    CHECK_OK(rpcx_server_shutdown(server, 1000));
    rpcx_server_free(server);
}

/* ---- a minimal HTTP/1.1 client over a raw socket ------------------------------------------ */

struct reply {
    int status;
    char *head; /* the status line and headers, NUL-terminated */
    char *body; /* body_len bytes, NUL-terminated */
    size_t body_len;
};

static void reply_free(struct reply *r) {
    free(r->head);
    free(r->body);
    memset(r, 0, sizeof *r);
}

static int dial(uint16_t port) {
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    CHECK(fd >= 0);
    struct timeval tv = {READ_TIMEOUT_S, 0};
    CHECK(setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv) == 0);
    CHECK(setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv) == 0);
    struct sockaddr_in sa;
    memset(&sa, 0, sizeof sa);
    sa.sin_family = AF_INET;
    sa.sin_port = htons(port);
    sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    CHECK(connect(fd, (struct sockaddr *)&sa, sizeof sa) == 0);
    return fd;
}

/* Sends everything; a peer that already closed is not an error (the read tells). */
static void send_all(int fd, const char *data, size_t len) {
    while (len > 0) {
        ssize_t n = send(fd, data, len, MSG_NOSIGNAL);
        if (n < 0 && errno == EINTR) continue;
        if (n <= 0) return;
        data += n;
        len -= (size_t)n;
    }
}

/* Reads some bytes: >0, 0 at EOF (or a reset); fails the test when nothing comes in time. */
static ssize_t read_some(int fd, char *buf, size_t cap) {
    for (;;) {
        ssize_t n = recv(fd, buf, cap, 0);
        if (n >= 0) return n;
        if (errno == EINTR) continue;
        if (errno == ECONNRESET) return 0;
        if (errno == EAGAIN || errno == EWOULDBLOCK) {
            fprintf(stderr, "no answer from the server within %d s\n", READ_TIMEOUT_S);
            exit(1);
        }
        perror("recv");
        exit(1);
    }
}

/* The value of header `name` in r->head (case-insensitive name), copied into `out`; NULL when
 * absent. */
static const char *header(const struct reply *r, const char *name, char *out, size_t cap) {
    size_t nlen = strlen(name);
    const char *line = strstr(r->head, "\r\n");
    while (line != NULL && line[2] != '\0') {
        line += 2;
        const char *end = strstr(line, "\r\n");
        if (end == NULL) end = line + strlen(line);
        if ((size_t)(end - line) > nlen && strncasecmp(line, name, nlen) == 0 &&
            line[nlen] == ':') {
            const char *v = line + nlen + 1;
            while (*v == ' ') v++;
            size_t vlen = (size_t)(end - v);
            if (vlen >= cap) vlen = cap - 1;
            memcpy(out, v, vlen);
            out[vlen] = '\0';
            return out;
        }
        line = end;
    }
    return NULL;
}

/* Reads one response (with a Content-Length body, or none) from `fd`. Returns 1 with `*r`
 * filled, or 0 when the server closed the connection before sending anything. */
static int read_reply(int fd, struct reply *r) {
    size_t cap = 4096, len = 0;
    char *buf = malloc(cap);
    CHECK(buf != NULL);
    char *head_end = NULL;
    while (head_end == NULL) {
        if (cap - len < 2048) {
            cap *= 2;
            buf = realloc(buf, cap);
            CHECK(buf != NULL);
        }
        ssize_t n = read_some(fd, buf + len, cap - len - 1);
        if (n == 0) {
            CHECK(len == 0); /* a response cut in its head */
            free(buf);
            return 0;
        }
        len += (size_t)n;
        buf[len] = '\0';
        head_end = strstr(buf, "\r\n\r\n");
    }
    size_t head_len = (size_t)(head_end - buf) + 2; /* keep the last header's CRLF */
    memset(r, 0, sizeof *r);
    r->head = malloc(head_len + 1);
    CHECK(r->head != NULL);
    memcpy(r->head, buf, head_len);
    r->head[head_len] = '\0';
    CHECK(sscanf(r->head, "HTTP/1.%*d %d", &r->status) == 1);
    char cl[32];
    size_t body_len = 0;
    if (header(r, "Content-Length", cl, sizeof cl) != NULL) body_len = strtoul(cl, NULL, 10);
    size_t have = len - (head_len + 2);
    r->body = malloc(body_len + 1);
    CHECK(r->body != NULL);
    size_t first = have < body_len ? have : body_len;
    memcpy(r->body, buf + head_len + 2, first);
    free(buf);
    while (first < body_len) {
        ssize_t n = read_some(fd, r->body + first, body_len - first);
        CHECK(n > 0); /* a body cut short */
        first += (size_t)n;
    }
    r->body[body_len] = '\0';
    r->body_len = body_len;
    return 1;
}

/* Reads until the server closes `fd` (bounded by READ_TIMEOUT_S per read). */
static void expect_closed(int fd) {
    char buf[4096];
    while (read_some(fd, buf, sizeof buf) > 0) {
    }
}

/* One request on a new connection; returns whether a response came (see read_reply). */
static int exchange(uint16_t port, const char *request, size_t len, struct reply *r) {
    int fd = dial(port);
    send_all(fd, request, len);
    int got = read_reply(fd, r);
    close(fd);
    return got;
}

/* A POST of `body` to / with the extra header lines `headers` (each ending in CRLF). */
static int post(uint16_t port, const char *headers, const char *body, struct reply *r) {
    char req[2048];
    int n = snprintf(req, sizeof req,
                     "POST / HTTP/1.1\r\nHost: 127.0.0.1\r\n%sContent-Length: %zu\r\n\r\n%s",
                     headers, strlen(body), body);
    CHECK(n > 0 && (size_t)n < sizeof req);
    return exchange(port, req, (size_t)n, r);
}

#define GATEWAY_MUL                                                                      \
    "X-RPCX-SerializeType: 1\r\nX-RPCX-ServicePath: Arith\r\nX-RPCX-ServiceMethod: Mul\r\n"

/* ---- the tests ---------------------------------------------------------------------------- */

/* rpcx call of Arith.Mul through `address`: 6 * 7. */
static void rpcx_mul_works(const char *address) {
    rpcx_client *client = NULL;
    rpcx_error *err = NULL;
    CHECK_CALL(test_connect(address, &client, &err), &err);
    static const char args[] = "{\"A\":6,\"B\":7}";
    rpcx_buf reply = empty_buf();
    CHECK_CALL(rpcx_client_call(client, "Arith", "Mul", (const uint8_t *)args, sizeof args - 1,
                                NULL, 30000, &reply, NULL, &err),
               &err);
    CHECK(reply.len == 8 && memcmp(reply.data, "{\"C\":42}", 8) == 0);
    rpcx_buf_free(&reply);
    rpcx_client_free(client);
}

/* The gateway: X-RPCX-* headers and the payload as the body; errors in X-RPCX-* headers. */
static void test_gateway(uint16_t port) {
    struct reply r;
    char v[256];
    CHECK(post(port, GATEWAY_MUL "X-RPCX-MessageID: 12\r\n", "{\"A\":7,\"B\":8}", &r));
    CHECK(r.status == 200);
    CHECK_STR(r.body, "{\"C\":56}");
    CHECK_STR(header(&r, "X-RPCX-ServiceMethod", v, sizeof v), "Mul");
    CHECK_STR(header(&r, "X-RPCX-MessageID", v, sizeof v), "12");
    CHECK(header(&r, "X-RPCX-MessageStatusType", v, sizeof v) == NULL);
    reply_free(&r);

    /* An unknown method: Go's error text in the headers, status 500. */
    CHECK(post(port,
               "X-RPCX-SerializeType: 1\r\nX-RPCX-ServicePath: Arith\r\n"
               "X-RPCX-ServiceMethod: Nope\r\n",
               "{}", &r));
    CHECK(r.status == 500);
    CHECK_STR(header(&r, "X-RPCX-MessageStatusType", v, sizeof v), "Error");
    CHECK_STR(header(&r, "X-RPCX-ErrorMessage", v, sizeof v), "rpcx: can't find method Nope");
    reply_free(&r);
}

/* JSON-RPC 2.0: a call, a service error and a batch. */
static void test_jsonrpc(uint16_t port) {
    struct reply r;
    char v[256];
    CHECK(post(port, "X-JSONRPC-2.0: true\r\n",
               "{\"jsonrpc\":\"2.0\",\"method\":\"Arith.Mul\",\"params\":{\"A\":3,\"B\":4},\"id\":1}",
               &r));
    CHECK(r.status == 200);
    CHECK_STR(r.body, "{\"jsonrpc\":\"2.0\",\"result\":{\"C\":12},\"id\":1}");
    CHECK_STR(header(&r, "Content-Type", v, sizeof v), "application/json");
    reply_free(&r);

    CHECK(post(port, "X-JSONRPC-2.0: true\r\n",
               "{\"jsonrpc\":\"2.0\",\"method\":\"Arith.Mul\",\"params\":\"x\",\"id\":\"s\"}", &r));
    CHECK_STR(r.body, "{\"jsonrpc\":\"2.0\",\"error\":{\"code\":-32603,\"message\":"
                      "\"expected {\\\"A\\\":int,\\\"B\\\":int}\",\"data\":null},\"id\":\"s\"}");
    reply_free(&r);

    CHECK(post(port, "X-JSONRPC-2.0: true\r\n",
               "[{\"jsonrpc\":\"2.0\",\"method\":\"Arith.Mul\",\"params\":{\"A\":2,\"B\":5},\"id\":1},"
               "{\"jsonrpc\":\"2.0\",\"method\":\"Arith.Mul\",\"params\":{\"A\":9,\"B\":9},\"id\":2}]",
               &r));
    CHECK_STR(r.body, "[{\"jsonrpc\":\"2.0\",\"result\":{\"C\":10},\"id\":1},"
                      "{\"jsonrpc\":\"2.0\",\"result\":{\"C\":81},\"id\":2}]");
    reply_free(&r);
}

/* C clients through the CONNECT and WebSocket tunnels, and plain TCP on the same port. */
static void test_tunnels(uint16_t port) {
    char addr[64];
    const char *networks[] = {"tcp", "http", "ws"};
    for (size_t i = 0; i < sizeof networks / sizeof *networks; i++) {
        snprintf(addr, sizeof addr, "%s@127.0.0.1:%u", networks[i], (unsigned)port);
        rpcx_mul_works(addr);
    }

    /* A server started at a ws@ address binds TCP and reports the ws@ form. */
    uint16_t ws_port = 0;
    rpcx_server *ws = start(NULL, "ws@127.0.0.1:0", &ws_port);
    char want[64];
    snprintf(want, sizeof want, "ws@127.0.0.1:%u", (unsigned)ws_port);
    CHECK_STR(rpcx_server_address(ws), want);
    rpcx_mul_works(rpcx_server_address(ws));
    snprintf(addr, sizeof addr, "tcp@127.0.0.1:%u", (unsigned)ws_port);
    rpcx_mul_works(addr);
    stop(ws);

    /* An address form rpcx does not know. */
    rpcx_client *c = NULL;
    rpcx_error *err = NULL;
    CHECK_STATUS(rpcx_client_connect("quic@127.0.0.1:1", NULL, &c, &err), RPCX_ERR_ADDRESS);
    CHECK(c == NULL && strstr(err_text(err), "http, ws, wss") != NULL);
    rpcx_error_free(err);
}

static void expect_connect_fails(const char *network, uint16_t port) {
    char addr[64];
    snprintf(addr, sizeof addr, "%s@127.0.0.1:%u", network, (unsigned)port);
    rpcx_client *c = NULL;
    rpcx_error *err = NULL;
    rpcx_status st = test_connect(addr, &c, &err);
    CHECK(st != RPCX_OK && c == NULL);
    printf("  %s refused as expected: %s\n", addr, err_text(err));
    rpcx_error_free(err);
}

/* Everything off: HTTP connections are closed unanswered, tunnels refused, rpcx still served.
 * Then each switch alone: gateway and CONNECT off, JSON-RPC and WebSocket on. */
static void test_switched_off(void) {
    rpcx_server_options *opts = rpcx_server_options_new();
    CHECK(opts != NULL);
    CHECK_OK(rpcx_server_options_set_http_gateway(opts, false));
    CHECK_OK(rpcx_server_options_set_jsonrpc(opts, false));
    CHECK_OK(rpcx_server_options_set_http_connect(opts, false));
    CHECK_OK(rpcx_server_options_set_websocket(opts, false));
    uint16_t port = 0;
    rpcx_server *server = start(opts, "tcp@127.0.0.1:0", &port);
    rpcx_server_options_free(opts);

    struct reply r;
    CHECK(post(port, GATEWAY_MUL, "{\"A\":1,\"B\":2}", &r) == 0);
    CHECK(post(port, "X-JSONRPC-2.0: true\r\n",
               "{\"jsonrpc\":\"2.0\",\"method\":\"Arith.Mul\",\"params\":{\"A\":1,\"B\":2},\"id\":1}",
               &r) == 0);
    expect_connect_fails("ws", port);
    expect_connect_fails("http", port);
    char addr[64];
    snprintf(addr, sizeof addr, "tcp@127.0.0.1:%u", (unsigned)port);
    rpcx_mul_works(addr);
    stop(server);

    opts = rpcx_server_options_new();
    CHECK(opts != NULL);
    CHECK_OK(rpcx_server_options_set_http_gateway(opts, false));
    CHECK_OK(rpcx_server_options_set_http_connect(opts, false));
    server = start(opts, "tcp@127.0.0.1:0", &port);
    rpcx_server_options_free(opts);
    CHECK(post(port, GATEWAY_MUL, "{\"A\":1,\"B\":2}", &r));
    CHECK(r.status == 404);
    reply_free(&r);
    CHECK(post(port, "X-JSONRPC-2.0: true\r\n",
               "{\"jsonrpc\":\"2.0\",\"method\":\"Arith.Mul\",\"params\":{\"A\":1,\"B\":2},\"id\":1}",
               &r));
    CHECK_STR(r.body, "{\"jsonrpc\":\"2.0\",\"result\":{\"C\":2},\"id\":1}");
    reply_free(&r);
    static const char connect_req[] = "CONNECT /_rpcx_ HTTP/1.0\r\n\r\n";
    CHECK(exchange(port, connect_req, sizeof connect_req - 1, &r));
    CHECK(r.status == 405);
    reply_free(&r);
    expect_connect_fails("http", port);
    snprintf(addr, sizeof addr, "ws@127.0.0.1:%u", (unsigned)port);
    rpcx_mul_works(addr);
    stop(server);
}

#define PREFLIGHT(origin)                                                                \
    "OPTIONS / HTTP/1.1\r\nHost: 127.0.0.1\r\nOrigin: " origin "\r\n"                   \
    "Access-Control-Request-Method: POST\r\n"                                            \
    "Access-Control-Request-Headers: x-rpcx-servicepath\r\n\r\n"

/* CORS: allow-all, then explicit lists (a wildcard origin, credentials, max age, exposed
 * headers); the default server sends no CORS headers. */
static void test_cors(uint16_t default_port) {
    struct reply r;
    char v[256];
    CHECK(exchange(default_port, PREFLIGHT("https://a.test"), strlen(PREFLIGHT("https://a.test")),
                   &r));
    CHECK(header(&r, "Access-Control-Allow-Origin", v, sizeof v) == NULL);
    reply_free(&r);

    rpcx_server_options *opts = rpcx_server_options_new();
    CHECK(opts != NULL);
    CHECK_OK(rpcx_server_options_set_cors_allow_all(opts));
    uint16_t port = 0;
    rpcx_server *server = start(opts, "tcp@127.0.0.1:0", &port);
    CHECK(exchange(port, PREFLIGHT("https://a.test"), strlen(PREFLIGHT("https://a.test")), &r));
    CHECK(r.status == 204);
    CHECK_STR(header(&r, "Access-Control-Allow-Origin", v, sizeof v), "*");
    CHECK_STR(header(&r, "Access-Control-Allow-Methods", v, sizeof v), "POST");
    CHECK_STR(header(&r, "Access-Control-Allow-Headers", v, sizeof v), "x-rpcx-servicepath");
    reply_free(&r);
    CHECK(post(port, "Origin: https://a.test\r\n" GATEWAY_MUL, "{\"A\":2,\"B\":2}", &r));
    CHECK_STR(r.body, "{\"C\":4}");
    CHECK_STR(header(&r, "Access-Control-Allow-Origin", v, sizeof v), "*");
    reply_free(&r);
    stop(server);

    /* Cleared again: no CORS headers. */
    CHECK_OK(rpcx_server_options_clear_cors(opts));
    server = start(opts, "tcp@127.0.0.1:0", &port);
    CHECK(post(port, "Origin: https://a.test\r\n" GATEWAY_MUL, "{\"A\":2,\"B\":2}", &r));
    CHECK(header(&r, "Access-Control-Allow-Origin", v, sizeof v) == NULL);
    reply_free(&r);
    stop(server);

    const char *origins[] = {"https://*.example.com"};
    const char *methods[] = {"POST", "PUT"};
    const char *headers[] = {"X-RPCX-ServicePath", "X-RPCX-ServiceMethod"};
    const char *exposed[] = {"X-RPCX-Meta"};
    rpcx_error *err = NULL;
    CHECK_CALL(rpcx_server_options_set_cors(opts, origins, 1, methods, 2, headers, 2, exposed, 1,
                                            true, 600, &err),
               &err);
    server = start(opts, "tcp@127.0.0.1:0", &port);
    rpcx_server_options_free(opts);
    const char *ok = PREFLIGHT("https://app.example.com");
    CHECK(exchange(port, ok, strlen(ok), &r));
    CHECK(r.status == 204);
    CHECK_STR(header(&r, "Access-Control-Allow-Origin", v, sizeof v), "https://app.example.com");
    CHECK_STR(header(&r, "Access-Control-Allow-Credentials", v, sizeof v), "true");
    CHECK_STR(header(&r, "Access-Control-Max-Age", v, sizeof v), "600");
    reply_free(&r);
    const char *evil = PREFLIGHT("https://evil.test");
    CHECK(exchange(port, evil, strlen(evil), &r));
    CHECK(header(&r, "Access-Control-Allow-Origin", v, sizeof v) == NULL);
    reply_free(&r);
    CHECK(post(port, "Origin: https://app.example.com\r\n" GATEWAY_MUL, "{\"A\":3,\"B\":3}", &r));
    CHECK_STR(r.body, "{\"C\":9}");
    CHECK_STR(header(&r, "Access-Control-Expose-Headers", v, sizeof v), "X-RPCX-Meta");
    reply_free(&r);
    stop(server);
}

/* A request of `n_headers` headers of `value_len` bytes each (plus Host), for the gateway. */
static char *big_request(size_t n_headers, size_t value_len, size_t *len) {
    size_t cap = 512 + n_headers * (value_len + 32);
    char *req = malloc(cap);
    CHECK(req != NULL);
    size_t at = (size_t)snprintf(req, cap, "POST / HTTP/1.1\r\nHost: 127.0.0.1\r\n" GATEWAY_MUL);
    for (size_t i = 0; i < n_headers; i++) {
        at += (size_t)snprintf(req + at, cap - at, "X-Filler-%zu: ", i);
        memset(req + at, 'v', value_len);
        at += value_len;
        at += (size_t)snprintf(req + at, cap - at, "\r\n");
    }
    at += (size_t)snprintf(req + at, cap - at, "Content-Length: 13\r\n\r\n{\"A\":5,\"B\":5}");
    CHECK(at < cap);
    *len = at;
    return req;
}

/* Sends `req` and expects the server to refuse it (431 or 400, or no answer) and close. */
static void expect_refused(uint16_t port, const char *req, size_t len) {
    int fd = dial(port);
    send_all(fd, req, len);
    /* Everything until the close: the server may reset the connection with our request
     * still unread, so a refusal may arrive cut, or not at all. */
    char got[256];
    size_t have = 0;
    char buf[4096];
    ssize_t n;
    while ((n = read_some(fd, buf, sizeof buf)) > 0) {
        size_t take = (size_t)n < sizeof got - 1 - have ? (size_t)n : sizeof got - 1 - have;
        memcpy(got + have, buf, take);
        have += take;
    }
    got[have] = '\0';
    close(fd);
    if (have >= 12) {
        CHECK(strncmp(got, "HTTP/1.1 431", 12) == 0 || strncmp(got, "HTTP/1.1 400", 12) == 0);
    }
    printf("  refused: %.40s\n", have ? got : "(closed without an answer)");
}

/* The request limits: headers counted and bounded in bytes, a head left open closed after the
 * request timeout; the same requests pass the default limits. */
static void test_limits(uint16_t default_port) {
    size_t many_len = 0, long_len = 0;
    char *many = big_request(20, 4, &many_len);       /* 24 headers */
    char *longer = big_request(1, 20000, &long_len);  /* a 20 KB head */
    struct reply r;
    CHECK(exchange(default_port, many, many_len, &r));
    CHECK(r.status == 200 && strcmp(r.body, "{\"C\":25}") == 0);
    reply_free(&r);
    CHECK(exchange(default_port, longer, long_len, &r));
    CHECK(r.status == 200 && strcmp(r.body, "{\"C\":25}") == 0);
    reply_free(&r);

    rpcx_server_options *opts = rpcx_server_options_new();
    CHECK(opts != NULL);
    CHECK_OK(rpcx_server_options_set_http_max_headers(opts, 10));
    CHECK_OK(rpcx_server_options_set_http_max_header_bytes(opts, 8192));
    CHECK_OK(rpcx_server_options_set_http_request_timeout_ms(opts, 500));
    uint16_t port = 0;
    rpcx_server *server = start(opts, "tcp@127.0.0.1:0", &port);
    rpcx_server_options_free(opts);
    expect_refused(port, many, many_len);
    expect_refused(port, longer, long_len);
    /* A head never finished: closed once the request timeout passes. */
    int fd = dial(port);
    static const char half[] = "POST / HTTP/1.1\r\nHost: 127.0.0.1\r\nX-RPCX-Ser";
    send_all(fd, half, sizeof half - 1);
    expect_closed(fd);
    close(fd);
    char addr[64];
    snprintf(addr, sizeof addr, "tcp@127.0.0.1:%u", (unsigned)port);
    rpcx_mul_works(addr);
    stop(server);
    free(many);
    free(longer);
}

/* Bad values: a clear status, the message naming the problem, the options unchanged. */
static void test_setter_errors(void) {
    rpcx_server_options *opts = rpcx_server_options_new();
    CHECK(opts != NULL);
    CHECK_STATUS(rpcx_server_options_set_http_request_timeout_ms(opts, 0), RPCX_ERR_INVALID_ARG);
    CHECK_STATUS(rpcx_server_options_set_http_max_headers(opts, 0), RPCX_ERR_INVALID_ARG);
    CHECK_STATUS(rpcx_server_options_set_http_max_header_bytes(opts, 0), RPCX_ERR_INVALID_ARG);
    CHECK_STATUS(rpcx_server_options_set_http_gateway(NULL, true), RPCX_ERR_NULL_ARG);
    CHECK_STATUS(rpcx_server_options_set_jsonrpc(NULL, true), RPCX_ERR_NULL_ARG);
    CHECK_STATUS(rpcx_server_options_set_http_connect(NULL, true), RPCX_ERR_NULL_ARG);
    CHECK_STATUS(rpcx_server_options_set_websocket(NULL, true), RPCX_ERR_NULL_ARG);
    CHECK_STATUS(rpcx_server_options_set_http_request_timeout_ms(NULL, 1), RPCX_ERR_NULL_ARG);
    CHECK_STATUS(rpcx_server_options_set_http_max_headers(NULL, 1), RPCX_ERR_NULL_ARG);
    CHECK_STATUS(rpcx_server_options_set_http_max_header_bytes(NULL, 1), RPCX_ERR_NULL_ARG);
    CHECK_STATUS(rpcx_server_options_set_cors_allow_all(NULL), RPCX_ERR_NULL_ARG);
    CHECK_STATUS(rpcx_server_options_clear_cors(NULL), RPCX_ERR_NULL_ARG);

    rpcx_error *err = NULL;
    const char *bad_method[] = {"GET POST"};
    CHECK_STATUS(rpcx_server_options_set_cors(opts, NULL, 0, bad_method, 1, NULL, 0, NULL, 0,
                                              false, 0, &err),
                 RPCX_ERR_INVALID_ARG);
    CHECK(strstr(err_text(err), "GET POST") != NULL && strstr(err_text(err), "methods") != NULL);
    rpcx_error_free(err);
    err = NULL;
    const char *bad_origin[] = {"https://a.test\r\nX-Evil: 1"};
    CHECK_STATUS(rpcx_server_options_set_cors(opts, bad_origin, 1, NULL, 0, NULL, 0, NULL, 0,
                                              false, 0, &err),
                 RPCX_ERR_INVALID_ARG);
    CHECK(strstr(err_text(err), "origins") != NULL);
    rpcx_error_free(err);
    err = NULL;
    const char *empty[] = {""};
    CHECK_STATUS(rpcx_server_options_set_cors(opts, NULL, 0, NULL, 0, empty, 1, NULL, 0, false, 0,
                                              &err),
                 RPCX_ERR_INVALID_ARG);
    rpcx_error_free(err);
    const char *holes[] = {NULL};
    CHECK_STATUS(rpcx_server_options_set_cors(opts, NULL, 0, NULL, 0, NULL, 0, holes, 1, false, 0,
                                              NULL),
                 RPCX_ERR_NULL_ARG);
    CHECK_STATUS(rpcx_server_options_set_cors(opts, NULL, 2, NULL, 0, NULL, 0, NULL, 0, false, 0,
                                              NULL),
                 RPCX_ERR_NULL_ARG);
    const char bad_utf8[] = {(char)0xff, (char)0xfe, 0};
    const char *utf8[] = {bad_utf8};
    CHECK_STATUS(rpcx_server_options_set_cors(opts, utf8, 1, NULL, 0, NULL, 0, NULL, 0, false, 0,
                                              NULL),
                 RPCX_ERR_INVALID_ARG);
    CHECK_STATUS(rpcx_server_options_set_cors(NULL, NULL, 0, NULL, 0, NULL, 0, NULL, 0, false, 0,
                                              NULL),
                 RPCX_ERR_NULL_ARG);

    /* The refused calls changed nothing: this server serves the default HTTP (no CORS). */
    uint16_t port = 0;
    rpcx_server *server = start(opts, "tcp@127.0.0.1:0", &port);
    rpcx_server_options_free(opts);
    struct reply r;
    char v[64];
    CHECK(post(port, "Origin: https://a.test\r\n" GATEWAY_MUL, "{\"A\":4,\"B\":4}", &r));
    CHECK_STR(r.body, "{\"C\":16}");
    CHECK(header(&r, "Access-Control-Allow-Origin", v, sizeof v) == NULL);
    reply_free(&r);
    stop(server);
}

int main(void) {
    uint16_t port = 0;
    rpcx_server *server = start(NULL, "tcp@127.0.0.1:0", &port);
    test_gateway(port);
    printf("gateway ok\n");
    test_jsonrpc(port);
    printf("jsonrpc ok\n");
    test_tunnels(port);
    printf("http@ and ws@ tunnels ok\n");
    test_switched_off();
    printf("switched off ok\n");
    test_cors(port);
    printf("cors ok\n");
    test_limits(port);
    printf("limits ok\n");
    test_setter_errors();
    printf("setter errors ok\n");
    stop(server);
    printf("test_http: all passed\n");
    return 0;
}
