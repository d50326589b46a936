/* A black-holed server mid-load through the C XClient (issue 16's network-fault case, as
 * rpcx-core/tests/netfault_blackhole.rs and tests/python/test_netfault.py run it): two C
 * servers, each behind a Toxiproxy proxy; the XClient's defaults (RoundRobin + Failover, the
 * dead-server detector on) with a 1 s call timeout call in a loop with 50 ms pauses; 1 s in,
 * one proxy gets `timeout` toxics with timeout 0 on both streams (every byte held, no reset,
 * no FIN) and is healed 6 s later.
 *
 * Asserted: at most the call that met the hole fails (the detector takes the server out of
 * rotation at once); no call ends later than its timeout + 1 s (a bound on hanging, measured
 * on CLOCK_MONOTONIC); every call reported successful ran exactly once, on the server that
 * answered it, and no call ran twice; the black-holed server answers again within the
 * detector's longest pause (2 s) + probe timeout (1 s) + 1 s of the heal. The figures are
 * printed.
 *
 * Toxiproxy comes from with_toxiproxy.sh (RPCX_TOXIPROXY_API=127.0.0.1:<port>), driven over
 * its HTTP API by a small HTTP/1.1 client below. Without it the test exits 77 (CTest: skipped),
 * unless RPCX_NETFAULT=1 (make netfault), which makes that a failure. A watchdog ends the test
 * (exit 1) if one call blocks for 5 timeouts, so a hang is reported as such. */
#define _POSIX_C_SOURCE 200809L
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

#include "testutil.h"

#define TIMEOUT_MS 1000L
#define MARGIN_MS 1000L
/* The detector's defaults (rpcx_xclient_options_set_health): longest pause, probe timeout. */
#define MAX_BACKOFF_MS 2000L
#define PROBE_TIMEOUT_MS 1000L
#define HOLE_AT_MS 1000L
#define HEAL_AT_MS 7000L
#define BACK_WITHIN_MS (MAX_BACKOFF_MS + PROBE_TIMEOUT_MS + MARGIN_MS)
/* The loop runs until the recovery window after the heal is over. */
#define END_MS (HEAL_AT_MS + BACK_WITHIN_MS + 500L)
#define PAUSE_MS 50L
#define MAX_CALLS 4096

/* ---- monotonic time ------------------------------------------------------------------- */

static long mono_ms(void) {
    struct timespec ts;
    CHECK(clock_gettime(CLOCK_MONOTONIC, &ts) == 0);
    return (long)ts.tv_sec * 1000L + ts.tv_nsec / 1000000L;
}

/* ---- a tiny HTTP/1.1 client for Toxiproxy's API --------------------------------------- */

static struct sockaddr_in g_api;
static char g_api_text[64];

static void api_parse(const char *text) {
    snprintf(g_api_text, sizeof g_api_text, "%s", text);
    char host[64];
    snprintf(host, sizeof host, "%s", text);
    char *colon = strrchr(host, ':');
    CHECK(colon != NULL);
    *colon = 0;
    char *end = NULL;
    long port = strtol(colon + 1, &end, 10);
    CHECK(end != colon + 1 && *end == 0 && port > 0 && port < 65536);
    memset(&g_api, 0, sizeof g_api);
    g_api.sin_family = AF_INET;
    g_api.sin_port = htons((uint16_t)port);
    CHECK(inet_pton(AF_INET, host, &g_api.sin_addr) == 1);
}

/* Sends `method path` with `body` (NULL: none) and Connection: close, reads the whole
 * response (5 s socket timeouts) into out[cap], NUL-terminated; returns the status code.
 * Any transport failure fails the test. */
static int api_request(const char *method, const char *path, const char *body, char *out,
                       size_t cap) {
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    CHECK(fd >= 0);
    struct timeval tv = {5, 0};
    CHECK(setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv) == 0);
    CHECK(setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv) == 0);
    if (connect(fd, (const struct sockaddr *)&g_api, sizeof g_api) != 0) {
        fprintf(stderr, "toxiproxy %s %s: connect %s: %s\n", method, path, g_api_text,
                strerror(errno));
        exit(1);
    }
    char req[1024];
    size_t blen = body ? strlen(body) : 0;
    int n = snprintf(req, sizeof req,
                     "%s %s HTTP/1.1\r\nHost: %s\r\nContent-Type: application/json\r\n"
                     "Content-Length: %zu\r\nConnection: close\r\n\r\n%s",
                     method, path, g_api_text, blen, body ? body : "");
    CHECK(n > 0 && (size_t)n < sizeof req);
    for (size_t sent = 0; sent < (size_t)n;) {
        ssize_t w = write(fd, req + sent, (size_t)n - sent);
        if (w < 0 && errno == EINTR) continue;
        CHECK(w > 0);
        sent += (size_t)w;
    }
    size_t len = 0;
    for (;;) {
        CHECK(len < cap - 1); /* the response fits */
        ssize_t r = read(fd, out + len, cap - 1 - len);
        if (r < 0 && errno == EINTR) continue;
        if (r < 0) {
            fprintf(stderr, "toxiproxy %s %s: read: %s\n", method, path, strerror(errno));
            exit(1);
        }
        if (r == 0) break;
        len += (size_t)r;
    }
    out[len] = 0;
    close(fd);
    int status = 0;
    if (sscanf(out, "HTTP/1.%*d %d", &status) != 1) {
        fprintf(stderr, "toxiproxy %s %s: not an HTTP response: %.200s\n", method, path, out);
        exit(1);
    }
    return status;
}

/* As api_request, failing the test unless the status is 2xx; returns the body. */
static const char *api_call(const char *method, const char *path, const char *body, char *out,
                            size_t cap) {
    int status = api_request(method, path, body, out, cap);
    const char *b = strstr(out, "\r\n\r\n");
    b = b ? b + 4 : "";
    if (status < 200 || status > 299) {
        fprintf(stderr, "toxiproxy %s %s %s: %d %s\n", method, path, body ? body : "", status,
                b);
        exit(1);
    }
    return b;
}

/* Creates proxy `name` to `upstream` (host:port) on a port Toxiproxy picks (listen port 0; it
 * answers with the address it bound) and writes that address to listen[cap]. */
static void api_proxy(const char *name, const char *upstream, char *listen, size_t cap) {
    char body[256], out[4096];
    snprintf(body, sizeof body,
             "{\"name\":\"%s\",\"listen\":\"127.0.0.1:0\",\"upstream\":\"%s\",\"enabled\":true}",
             name, upstream);
    const char *b = api_call("POST", "/proxies", body, out, sizeof out);
    const char *key = "\"listen\":\"";
    const char *at = strstr(b, key);
    CHECK(at != NULL);
    at += strlen(key);
    const char *end = strchr(at, '"');
    CHECK(end != NULL && (size_t)(end - at) < cap && end > at);
    memcpy(listen, at, (size_t)(end - at));
    listen[end - at] = 0;
    CHECK(strcmp(listen, "127.0.0.1:0") != 0);
}

static const char *const STREAMS[2] = {"upstream", "downstream"};

/* Holds every byte both ways through proxy `name`, closing nothing. */
static void black_hole(const char *name) {
    for (int i = 0; i < 2; i++) {
        char path[128], body[256], out[4096];
        snprintf(path, sizeof path, "/proxies/%s/toxics", name);
        snprintf(body, sizeof body,
                 "{\"name\":\"hole_%s\",\"type\":\"timeout\",\"stream\":\"%s\","
                 "\"toxicity\":1.0,\"attributes\":{\"timeout\":0}}",
                 STREAMS[i], STREAMS[i]);
        api_call("POST", path, body, out, sizeof out);
    }
}

/* Ends black_hole(name). */
static void heal(const char *name) {
    for (int i = 0; i < 2; i++) {
        char path[128], out[4096];
        snprintf(path, sizeof path, "/proxies/%s/toxics/hole_%s", name, STREAMS[i]);
        api_call("DELETE", path, NULL, out, sizeof out);
    }
}

/* ---- counting servers ----------------------------------------------------------------- */

/* How often each server ran each call id (the payload: the id in decimal). */
static atomic_int g_ran[2][MAX_CALLS];
static atomic_int g_bad_payloads;

struct counting_server {
    int index;
    char name[8];
    rpcx_server *server;
    uint16_t port;
};

static void who_am(void *ud, const rpcx_request *req, rpcx_responder *resp) {
    const struct counting_server *s = ud;
    size_t len = 0;
    const uint8_t *data = rpcx_request_payload(req, &len);
    char text[24];
    long id = -1;
    if (len > 0 && len < sizeof text) {
        memcpy(text, data, len);
        text[len] = 0;
        char *end = NULL;
        id = strtol(text, &end, 10);
        if (*end != 0) id = -1;
    }
    if (id < 0 || id >= MAX_CALLS) {
        atomic_fetch_add(&g_bad_payloads, 1);
        CHECK_OK(rpcx_responder_error(resp, "bad call id", NULL, 0));
        return;
    }
    atomic_fetch_add(&g_ran[s->index][id], 1);
    /* INVALID_STATE: the caller gave up meanwhile (a request held by the black hole may
     * arrive after the heal); harmless, nothing is sent. */
    rpcx_status st =
        rpcx_responder_reply(resp, (const uint8_t *)s->name, strlen(s->name), NULL);
    CHECK(st == RPCX_OK || st == RPCX_ERR_INVALID_STATE);
}

static void server_start(struct counting_server *s, int index, const char *name) {
    memset(s, 0, sizeof *s);
    s->index = index;
    snprintf(s->name, sizeof s->name, "%s", name);
    CHECK_OK(rpcx_server_new(NULL, &s->server));
    CHECK_OK(rpcx_server_register(s->server, "Who", "Am", who_am, s, NULL));
    rpcx_error *err = NULL;
    CHECK_CALL(rpcx_server_start(s->server, "tcp@127.0.0.1:0", &s->port, &err), &err);
}

/* ---- the watchdog: a call blocked for 5 timeouts is a hang ---------------------------- */

static atomic_long g_call_started; /* mono_ms() of the call in progress, 0 between calls */
static atomic_long g_call_id;
static atomic_int g_stop_watchdog;

static int watchdog(void *arg) {
    (void)arg;
    while (!atomic_load(&g_stop_watchdog)) {
        long started = atomic_load(&g_call_started);
        if (started != 0 && mono_ms() - started > 5 * TIMEOUT_MS) {
            fprintf(stderr, "call %ld hung: blocked for more than %ld ms\n",
                    atomic_load(&g_call_id), 5 * TIMEOUT_MS);
            fflush(stderr);
            _Exit(1); /* with_toxiproxy.sh stops Toxiproxy */
        }
        sleep_ms(50);
    }
    return 0;
}

/* ---- the test ------------------------------------------------------------------------- */

struct outcome {
    long at;   /* start, ms after the loop began */
    long took; /* ms */
    int who;   /* 0 = a, 1 = b, -1 = failed */
    rpcx_status status;
    char error[160];
};

static struct outcome g_out[MAX_CALLS];

/* One call of Who.Am(id): fills g_out[id]. */
static void call(rpcx_xclient *xc, long id, long start) {
    char payload[24];
    int plen = snprintf(payload, sizeof payload, "%ld", id);
    struct outcome *o = &g_out[id];
    rpcx_buf reply = empty_buf();
    rpcx_error *err = NULL;
    atomic_store(&g_call_id, id);
    long t = mono_ms();
    atomic_store(&g_call_started, t);
    rpcx_status s = rpcx_xclient_call(xc, "Am", (const uint8_t *)payload, (size_t)plen, NULL, 0,
                                      &reply, NULL, &err);
    long end = mono_ms();
    atomic_store(&g_call_started, 0);
    o->at = t - start;
    o->took = end - t;
    o->status = s;
    o->who = -1;
    if (s == RPCX_OK) {
        if (reply.len == 1 && reply.data[0] == 'a') o->who = 0;
        if (reply.len == 1 && reply.data[0] == 'b') o->who = 1;
        CHECK(o->who >= 0); /* a reply is a server's name */
        rpcx_buf_free(&reply);
    } else {
        CHECK(rpcx_error_code(err) == s);
        snprintf(o->error, sizeof o->error, "%s: %s", rpcx_status_str((int)s), err_text(err));
        rpcx_error_free(err);
    }
}

int main(void) {
    const char *api = getenv("RPCX_TOXIPROXY_API");
    if (api == NULL || *api == 0) {
        const char *required = getenv("RPCX_NETFAULT");
        if (required != NULL && strcmp(required, "1") == 0) {
            fprintf(stderr, "RPCX_NETFAULT=1 but no Toxiproxy: RPCX_TOXIPROXY_API is not set "
                            "(run through tests/c/with_toxiproxy.sh)\n");
            return 1;
        }
        fprintf(stderr, "SKIP: no Toxiproxy (RPCX_TOXIPROXY_API unset; make netfault runs it)\n");
        return 77;
    }
    api_parse(api);
    char out[4096];
    api_call("GET", "/version", NULL, out, sizeof out);

    struct counting_server a, b;
    server_start(&a, 0, "a");
    server_start(&b, 1, "b");
    char upstream[32], listen_a[64], listen_b[64];
    snprintf(upstream, sizeof upstream, "127.0.0.1:%u", (unsigned)a.port);
    api_proxy("a", upstream, listen_a, sizeof listen_a);
    snprintf(upstream, sizeof upstream, "127.0.0.1:%u", (unsigned)b.port);
    api_proxy("b", upstream, listen_b, sizeof listen_b);

    char addr_a[80], addr_b[80];
    snprintf(addr_a, sizeof addr_a, "tcp@%s", listen_a);
    snprintf(addr_b, sizeof addr_b, "tcp@%s", listen_b);
    rpcx_server_entry e[2] = {{addr_a, NULL}, {addr_b, NULL}};
    rpcx_discovery *d = NULL;
    CHECK_OK(rpcx_discovery_new_multiple(e, 2, &d));
    /* The defaults (RoundRobin, Failover, the detector on) and a 1 s call timeout. */
    rpcx_xclient_options *o = rpcx_xclient_options_new();
    CHECK(o != NULL);
    CHECK_OK(rpcx_xclient_options_set_select_mode(o, RPCX_SELECT_ROUND_ROBIN));
    CHECK_OK(rpcx_xclient_options_set_fail_mode(o, RPCX_FAIL_FAILOVER));
    CHECK_OK(rpcx_xclient_options_set_timeout_ms(o, (uint64_t)TIMEOUT_MS));
    rpcx_xclient *xc = NULL;
    rpcx_error *err = NULL;
    CHECK_CALL(rpcx_xclient_new("Who", d, o, &xc, &err), &err);
    rpcx_xclient_options_free(o);
    rpcx_discovery_free(d);

    thrd_t dog;
    CHECK(thrd_create(&dog, watchdog, NULL) == thrd_success);

    /* Both servers answer through their proxies before the fault. */
    long id = 0;
    long start = mono_ms();
    int warm[2] = {0, 0};
    for (; id < 4; id++) {
        call(xc, id, start);
        CHECK(g_out[id].status == RPCX_OK);
        warm[g_out[id].who]++;
    }
    CHECK(warm[0] == 2 && warm[1] == 2);
    long first = id;

    start = mono_ms();
    int holed = 0, healed = 0;
    long hole_at = 0, heal_at = 0;
    while (mono_ms() - start < END_MS) {
        CHECK(id < MAX_CALLS);
        long now = mono_ms() - start;
        if (!holed && now >= HOLE_AT_MS) {
            black_hole("a");
            hole_at = mono_ms() - start;
            holed = 1;
        }
        if (!healed && now >= HEAL_AT_MS) {
            heal("a");
            heal_at = mono_ms() - start;
            healed = 1;
        }
        call(xc, id, start);
        id++;
        sleep_ms(PAUSE_MS);
    }
    long last = id;
    atomic_store(&g_stop_watchdog, 1);
    CHECK(thrd_join(dog, NULL) == thrd_success);
    CHECK(holed && healed);

    rpcx_xclient_free(xc);
    CHECK_OK(rpcx_server_shutdown(a.server, 500));
    CHECK_OK(rpcx_server_shutdown(b.server, 500));

    /* The figures. */
    int failed = 0, by[2] = {0, 0};
    long slowest = 0, slowest_id = -1, first_failure = -1, back = -1;
    long last_a_during_hole = -1;
    for (long i = first; i < last; i++) {
        const struct outcome *c = &g_out[i];
        if (c->took > slowest) {
            slowest = c->took;
            slowest_id = i;
        }
        if (c->who < 0) {
            failed++;
            fprintf(stderr, "call %ld failed (at %ld ms, after %ld ms): %s\n", i, c->at, c->took,
                    c->error);
            if (first_failure < 0) first_failure = i;
            continue;
        }
        by[c->who]++;
        if (c->who == 0 && c->at > hole_at && c->at < heal_at) last_a_during_hole = i;
        if (c->who == 0 && c->at > heal_at && back < 0) back = c->at - heal_at;
    }
    printf("%ld calls (a %d, b %d), %d failed; slowest %ld ms (call %ld)\n", last - first, by[0],
           by[1], failed, slowest, slowest_id);
    if (first_failure >= 0) {
        const struct outcome *f = &g_out[first_failure];
        printf("black hole at %ld ms: first failed call began %ld ms after it, failed after "
               "%ld ms (detected %ld ms after the hole)\n",
               hole_at, f->at - hole_at, f->took, f->at + f->took - hole_at);
    } else {
        printf("black hole at %ld ms: no call failed\n", hole_at);
    }
    printf("healed at %ld ms: a answered again %ld ms after the heal (bound %ld ms)\n", heal_at,
           back, BACK_WITHIN_MS);

    /* Every call reported successful ran exactly once, on the server that answered it; no
     * call (failed ones included: the held request may reach a after the heal) ran twice. */
    CHECK(atomic_load(&g_bad_payloads) == 0);
    for (long i = 0; i < last; i++) {
        int ra = atomic_load(&g_ran[0][i]), rb = atomic_load(&g_ran[1][i]);
        if (ra + rb > 1) {
            fprintf(stderr, "call %ld ran %d times on a and %d on b\n", i, ra, rb);
            exit(1);
        }
        if (g_out[i].who >= 0 && (g_out[i].who == 0 ? ra : rb) != 1) {
            fprintf(stderr, "call %ld answered by %s ran %d times on a, %d on b\n", i,
                    g_out[i].who == 0 ? "a" : "b", ra, rb);
            exit(1);
        }
    }
    /* No call outlived its timeout by more than the margin (a bound on hanging). */
    CHECK(slowest < TIMEOUT_MS + MARGIN_MS);
    /* Only the call that met the hole fails: the detector takes a out of rotation at once,
     * so the other calls of the outage go to b (Failover does not retry timeouts). */
    CHECK(failed <= 1);
    /* a left rotation: while it was black-holed, no call after the failed one reached it. */
    if (first_failure >= 0) CHECK(last_a_during_hole < first_failure);
    /* The probes bring a back soon after the heal. */
    CHECK(back >= 0 && back < BACK_WITHIN_MS);

    rpcx_server_free(a.server);
    rpcx_server_free(b.server);
    printf("ok\n");
    return 0;
}
