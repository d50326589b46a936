/* The log callback of librpcx: a C callback receives the core's events with level, target and
 * message (fields as key=value): a malformed frame and a limit hit from raw socket bytes, an
 * authentication failure (the token never logged), a connection refused by the IP filter and
 * the connection limit reached; the level filters; the callback cannot replace itself; a NULL
 * callback restores the default, one line per event on stderr. */
#define _POSIX_C_SOURCE 200809L
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <stdint.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

#include "testutil.h"

#define MAX_EVENTS 512

typedef struct {
    int level;
    char target[96];
    char message[512];
} event;

static mtx_t lock;
static event events[MAX_EVENTS];
static int n_events;
static atomic_int reentry_status = -1;
static atomic_int level_in_callback = -1;

static void on_log(void *user_data, rpcx_log_level level, const char *target,
                   const char *message) {
    CHECK(user_data == &lock);
    CHECK(target != NULL && message != NULL);
    /* Replacing the callback from inside it is refused; reading and setting the level is not. */
    if (atomic_load(&reentry_status) == -1) {
        atomic_store(&reentry_status, (int)rpcx_set_log_callback(NULL, NULL, RPCX_LOG_WARN));
        atomic_store(&level_in_callback, (int)rpcx_get_log_level());
        CHECK_OK(rpcx_set_log_level(rpcx_get_log_level()));
    }
    mtx_lock(&lock);
    if (n_events < MAX_EVENTS) {
        event *e = &events[n_events++];
        e->level = level;
        snprintf(e->target, sizeof e->target, "%s", target);
        snprintf(e->message, sizeof e->message, "%s", message);
    }
    mtx_unlock(&lock);
}

static int mark(void) {
    mtx_lock(&lock);
    int n = n_events;
    mtx_unlock(&lock);
    return n;
}

/* The first event since `from` whose message contains every needle (NULL-terminated list);
 * waits up to 20 s. Returns a copy. */
static event wait_event(int from, const char *const *needles, const char *what) {
    long deadline = now_ms() + 20000;
    for (;;) {
        mtx_lock(&lock);
        for (int i = from; i < n_events; i++) {
            int all = 1;
            for (const char *const *n = needles; *n; n++) {
                all &= strstr(events[i].message, *n) != NULL;
            }
            if (all) {
                event e = events[i];
                mtx_unlock(&lock);
                return e;
            }
        }
        mtx_unlock(&lock);
        if (now_ms() > deadline) {
            fprintf(stderr, "no log event: %s; got:\n", what);
            mtx_lock(&lock);
            for (int i = from; i < n_events; i++) {
                fprintf(stderr, "  [%d] %s: %s\n", events[i].level, events[i].target,
                        events[i].message);
            }
            mtx_unlock(&lock);
            exit(1);
        }
        sleep_ms(10);
    }
}

static int count_since(int from, const char *needle) {
    int n = 0;
    mtx_lock(&lock);
    for (int i = from; i < n_events; i++) {
        n += strstr(events[i].message, needle) != NULL;
    }
    mtx_unlock(&lock);
    return n;
}

static int connect_raw(uint16_t port, uint16_t *local_port) {
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    CHECK(fd >= 0);
    struct sockaddr_in a;
    memset(&a, 0, sizeof a);
    a.sin_family = AF_INET;
    a.sin_port = htons(port);
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    CHECK(connect(fd, (struct sockaddr *)&a, sizeof a) == 0);
    struct timeval tv = {20, 0}; /* every read is bounded */
    CHECK(setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv) == 0);
    socklen_t len = sizeof a;
    CHECK(getsockname(fd, (struct sockaddr *)&a, &len) == 0);
    *local_port = ntohs(a.sin_port);
    return fd;
}

static void write_all(int fd, const uint8_t *p, size_t n) {
    while (n > 0) {
        ssize_t w = write(fd, p, n);
        CHECK(w > 0);
        p += w;
        n -= (size_t)w;
    }
}

/* Reads until the server closes the connection (bounded by SO_RCVTIMEO). */
static void read_until_closed(int fd) {
    uint8_t buf[512];
    for (;;) {
        ssize_t r = read(fd, buf, sizeof buf);
        if (r == 0 || (r < 0 && errno != EINTR && errno != EAGAIN)) {
            return;
        }
        CHECK(!(r < 0 && errno == EAGAIN)); /* the 20 s bound passed */
    }
}

/* Reads at least n bytes (bounded by SO_RCVTIMEO). */
static void read_some(int fd, size_t n) {
    uint8_t buf[512];
    size_t got = 0;
    while (got < n) {
        ssize_t r = read(fd, buf, sizeof buf);
        CHECK(r > 0);
        got += (size_t)r;
    }
}

/* A request frame header: magic, version, request, JSON, seq 1, then `total` bytes follow. */
static void frame_head(uint8_t *h, uint32_t total) {
    memset(h, 0, 16);
    h[0] = 0x08;
    h[3] = 0x10;
    h[11] = 1;
    h[12] = (uint8_t)(total >> 24);
    h[13] = (uint8_t)(total >> 16);
    h[14] = (uint8_t)(total >> 8);
    h[15] = (uint8_t)total;
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
    (void)peer;
    if (token[0] == '\0' || strcmp(token, "Bearer good") == 0) {
        return 1;
    }
    snprintf(message, cap, "%s", "go away");
    return 0;
}

static rpcx_server *start(rpcx_server_options *opts) {
    rpcx_server *s = NULL;
    CHECK_OK(rpcx_server_new(opts, &s));
    CHECK_OK(rpcx_server_register(s, "Echo", "Echo", on_echo, NULL, NULL));
    return s;
}

int main(void) {
    CHECK(mtx_init(&lock, mtx_plain) == thrd_success);
    const char *env = getenv("RPCX_LOG");
    if (env == NULL) {
        CHECK(rpcx_get_log_level() == RPCX_LOG_WARN); /* the default */
    } else if (strcmp(env, "debug") == 0) {
        CHECK(rpcx_get_log_level() == RPCX_LOG_DEBUG); /* test_log_env: RPCX_LOG sets it */
    }
    CHECK_STATUS(rpcx_set_log_level(6), RPCX_ERR_INVALID_ARG);
    CHECK_STATUS(rpcx_set_log_level(-1), RPCX_ERR_INVALID_ARG);
    CHECK_STATUS(rpcx_set_log_callback(on_log, &lock, 9), RPCX_ERR_INVALID_ARG);
    CHECK_OK(rpcx_set_log_callback(on_log, &lock, RPCX_LOG_DEBUG));
    CHECK(rpcx_get_log_level() == RPCX_LOG_DEBUG);

    /* The main server: auth, a 64 KiB frame limit. */
    rpcx_server_options *so = rpcx_server_options_new();
    rpcx_limits limits;
    CHECK_OK(rpcx_limits_init(&limits, sizeof limits));
    limits.max_frame_len = 64 << 10;
    CHECK_OK(rpcx_server_options_set_limits(so, &limits));
    uint16_t port = 0;
    rpcx_server *server = start(so);
    rpcx_server_options_free(so);
    CHECK_OK(rpcx_server_set_auth(server, on_auth, NULL, NULL));
    CHECK_OK(rpcx_server_start(server, "tcp@127.0.0.1:0", &port, NULL));

    /* A frame whose service path length lies: answered with an error, logged at warn. */
    int m = mark();
    uint16_t local = 0;
    int fd = connect_raw(port, &local);
    uint8_t frame[32] = {0};
    frame_head(frame, 16);
    frame[16 + 2] = 0x03; /* service path length 1000 in a 16-byte body */
    frame[16 + 3] = 0xe8;
    write_all(fd, frame, 32);
    read_some(fd, 16);
    char peer[64];
    snprintf(peer, sizeof peer, "peer=tcp@127.0.0.1:%u", (unsigned)local);
    const char *malformed[] = {"rpcx: malformed frame", peer, "answered with an error", NULL};
    event e = wait_event(m, malformed, "malformed frame");
    CHECK(e.level == RPCX_LOG_WARN);
    CHECK(strncmp(e.target, "rpcx::", 6) == 0);
    CHECK(strstr(e.message, "error=") != NULL);
    /* A wrong magic byte next: the stream cannot be resynchronised and the connection ends. */
    uint8_t junk = 0x99;
    write_all(fd, &junk, 1);
    read_until_closed(fd);
    close(fd);
    const char *bad_magic[] = {"rpcx: malformed frame", peer, "wrong magic number", NULL};
    e = wait_event(m, bad_magic, "bad magic");
    CHECK(e.level == RPCX_LOG_WARN);
    const char *closed[] = {"rpcx: connection closed", peer, "reason=", NULL};
    e = wait_event(m, closed, "connection closed");
    CHECK(e.level == RPCX_LOG_DEBUG);

    /* A frame claiming 1 GiB: a limit hit. */
    m = mark();
    fd = connect_raw(port, &local);
    frame_head(frame, 1u << 30);
    write_all(fd, frame, 16);
    read_until_closed(fd);
    close(fd);
    snprintf(peer, sizeof peer, "peer=tcp@127.0.0.1:%u", (unsigned)local);
    const char *limit[] = {"rpcx: request over a limit", peer, "message is too long", NULL};
    e = wait_event(m, limit, "frame over the limit");
    CHECK(e.level == RPCX_LOG_WARN);

    /* An authentication failure: the call and the peer are named, the token is not. */
    m = mark();
    char addr[64];
    snprintf(addr, sizeof addr, "tcp@127.0.0.1:%u", (unsigned)port);
    rpcx_client_options *co = rpcx_client_options_new();
    CHECK_OK(rpcx_client_options_set_auth_token(co, "Bearer s3cr3t-token"));
    rpcx_client *client = NULL;
    rpcx_error *err = NULL;
    CHECK_CALL(rpcx_client_connect(addr, co, &client, &err), &err);
    rpcx_client_options_free(co);
    CHECK_STATUS(rpcx_client_call(client, "Echo", "Echo", (const uint8_t *)"x", 1, NULL, 5000,
                                  NULL, NULL, &err),
                 RPCX_ERR_SERVER);
    rpcx_error_free(err);
    err = NULL;
    const char *auth[] = {"rpcx: authentication failed", "service=Echo", "method=Echo",
                          "error=\"go away\"", NULL};
    e = wait_event(m, auth, "auth failure");
    CHECK(e.level == RPCX_LOG_WARN);
    CHECK(strstr(e.message, "peer=tcp@127.0.0.1:") != NULL);
    CHECK(count_since(m, "s3cr3t") == 0);
    rpcx_client_free(client);

    /* Successful calls log nothing at info or above. */
    m = mark();
    CHECK_CALL(test_connect(addr, &client, &err), &err);
    for (int i = 0; i < 20; i++) {
        rpcx_buf reply = {NULL, 0, NULL};
        CHECK_CALL(rpcx_client_call(client, "Echo", "Echo", (const uint8_t *)"hi", 2, NULL, 5000,
                                    &reply, NULL, &err),
                   &err);
        rpcx_buf_free(&reply);
    }
    mtx_lock(&lock);
    for (int i = m; i < n_events; i++) {
        CHECK(events[i].level >= RPCX_LOG_DEBUG);
    }
    CHECK(n_events - m < 10); /* no line per call, even at debug */
    mtx_unlock(&lock);
    rpcx_client_free(client);

    /* A connection refused by the IP filter. */
    m = mark();
    uint16_t deny_port = 0;
    rpcx_server *deny = start(NULL);
    const char *nets[] = {"127.0.0.0/8"};
    CHECK_OK(rpcx_server_add_ip_filter(deny, NULL, 0, nets, 1));
    CHECK_OK(rpcx_server_start(deny, "tcp@127.0.0.1:0", &deny_port, NULL));
    fd = connect_raw(deny_port, &local);
    read_until_closed(fd);
    close(fd);
    snprintf(peer, sizeof peer, "peer=tcp@127.0.0.1:%u", (unsigned)local);
    const char *refused[] = {"rpcx: connection refused", peer, "ip-filter", NULL};
    e = wait_event(m, refused, "refused connection");
    CHECK(e.level == RPCX_LOG_WARN);
    CHECK_OK(rpcx_server_shutdown(deny, 1000));
    rpcx_server_free(deny);

    /* The connection limit: a second connection waits, said at warn level. */
    m = mark();
    so = rpcx_server_options_new();
    CHECK_OK(rpcx_server_options_set_max_connections(so, 1));
    uint16_t one_port = 0;
    rpcx_server *one = start(so);
    rpcx_server_options_free(so);
    CHECK_OK(rpcx_server_start(one, "tcp@127.0.0.1:0", &one_port, NULL));
    int first = connect_raw(one_port, &local);
    int second = connect_raw(one_port, &local);
    const char *full[] = {"rpcx: connection limit reached", "max_connections=1", NULL};
    e = wait_event(m, full, "connection limit");
    CHECK(e.level == RPCX_LOG_WARN);
    close(first);
    close(second);
    CHECK_OK(rpcx_server_shutdown(one, 1000));
    rpcx_server_free(one);

    /* The callback could not replace itself from inside. */
    CHECK(atomic_load(&reentry_status) == RPCX_ERR_INVALID_STATE);
    CHECK(atomic_load(&level_in_callback) == RPCX_LOG_DEBUG);

    /* At warn level, debug events are not delivered. */
    CHECK_OK(rpcx_set_log_level(RPCX_LOG_WARN));
    m = mark();
    CHECK_CALL(test_connect(addr, &client, &err), &err);
    rpcx_client_free(client);
    fd = connect_raw(port, &local);
    write_all(fd, &junk, 1); /* neither rpcx nor HTTP: refused, at warn */
    read_until_closed(fd);
    close(fd);
    snprintf(peer, sizeof peer, "peer=tcp@127.0.0.1:%u", (unsigned)local);
    const char *refused2[] = {"rpcx: connection refused", peer, NULL};
    wait_event(m, refused2, "refused at warn level");
    CHECK(count_since(m, "rpcx: connection accepted") == 0);

    /* A NULL callback restores the default: one line on stderr. The callback is not called
     * after rpcx_set_log_callback returns. */
    CHECK_OK(rpcx_set_log_callback(NULL, NULL, RPCX_LOG_WARN));
    m = mark();
    char path[] = "/tmp/rpcx_test_log_XXXXXX";
    int tmp = mkstemp(path);
    CHECK(tmp >= 0);
    fflush(stderr);
    int saved = dup(2);
    CHECK(saved >= 0 && dup2(tmp, 2) == 2);
    fd = connect_raw(port, &local);
    write_all(fd, &junk, 1);
    read_until_closed(fd);
    close(fd);
    snprintf(peer, sizeof peer, "peer=tcp@127.0.0.1:%u", (unsigned)local);
    char text[4096];
    int found = 0;
    for (long deadline = now_ms() + 20000; !found && now_ms() < deadline;) {
        ssize_t n = pread(tmp, text, sizeof text - 1, 0);
        text[n > 0 ? n : 0] = '\0';
        found = strstr(text, peer) != NULL;
        if (!found) {
            sleep_ms(10);
        }
    }
    CHECK(dup2(saved, 2) == 2);
    close(saved);
    close(tmp);
    unlink(path);
    CHECK(found);
    CHECK(strstr(text, " WARN ") != NULL);
    CHECK(strstr(text, "rpcx: connection refused") != NULL);
    CHECK(strchr(text, '\n') != NULL);
    CHECK(mark() == m);

    CHECK_OK(rpcx_server_shutdown(server, 1000));
    rpcx_server_free(server);
    mtx_destroy(&lock);
    printf("test_log: ok\n");
    return 0;
}
