/* An Arith service written in C, the Go examples' Arith over JSON arguments {"A":int,"B":int}
 * replying {"C":int}: Mul, Add, Div (the service error "divide by zero", with the zero reply
 * as its payload, as Go's Arith sends it) and Meta (echoes each request metadata pair k=v as
 * echo-k=v and replies C = the number of pairs) and Push ({"Count":n,"Data":"text"}: pushes
 * n messages Push.Data with the payload "text" to the caller's connection, then replies C = n,
 * as the Go interop server's Arith.Push does). It speaks JSON only (serialize type 1): other
 * serializations get the error "arith_server.c speaks JSON only (serialize type 1)", so call
 * it with the JSON serializer (Go: protocol.JSON; Python: serializer=rpcx.JSON, as
 * examples/python/arith_client.py does; the rpcx CLI's default). The Go interop client's
 * checks run against it in the C tests.
 *
 *   arith_server [tcp@127.0.0.1:0]     prints "LISTENING tcp@127.0.0.1:PORT" and serves until
 *                                       SIGINT (Ctrl-C) or SIGTERM; when stdin is a pipe (a
 *                                       script or test driving it), also until a line is read
 *                                       from it or it closes. Then it shuts down (in-flight
 *                                       calls get 2 s), prints its metrics (Prometheus text)
 *                                       on stderr and exits 0.
 *   arith_server --help                 prints this usage.
 *
 * Every call is also logged on stderr by a call observer (a plugin written in C).
 *
 * Build (POSIX: signals and a thread):
 *   cc -std=c11 arith_server.c $(pkg-config --cflags --libs rpcx) -pthread -o arith_server */
#define _POSIX_C_SOURCE 200809L

#include <inttypes.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <rpcx.h>

enum op { OP_MUL, OP_ADD, OP_DIV, OP_META, OP_PUSH };

/* Parses {"A":a,"B":b} (whitespace allowed, keys in this order). */
static int parse_args(const uint8_t *data, size_t len, long long *a, long long *b) {
    char text[256];
    if (data == NULL || len == 0 || len >= sizeof text) return 0;
    memcpy(text, data, len);
    text[len] = '\0';
    return sscanf(text, " { \"A\" : %lld , \"B\" : %lld }", a, b) == 2;
}

/* Arith.Push: {"Count":n,"Data":"text"} (at most 100 pushes of at most 63 bytes). Pushes
 * without waiting (timeout 0: a handler must not block); the caller is told if one fails. */
static void push(const rpcx_request *req, const uint8_t *payload, size_t len,
                 rpcx_responder *resp) {
    char text[256], data[64] = "";
    long long count = 0;
    if (payload == NULL || len == 0 || len >= sizeof text) {
        rpcx_responder_error(resp, "expected {\"Count\":int,\"Data\":string}", NULL, 0);
        return;
    }
    memcpy(text, payload, len);
    text[len] = '\0';
    if (sscanf(text, " { \"Count\" : %lld , \"Data\" : \"%63[^\"]\" }", &count, data) < 1 ||
        count < 0 || count > 100) {
        rpcx_responder_error(resp, "expected {\"Count\":0..100,\"Data\":string}", NULL, 0);
        return;
    }
    rpcx_connection *conn = rpcx_request_connection(req); /* ours: freed below */
    for (long long i = 0; i < count; i++) {
        rpcx_error *err = NULL;
        if (rpcx_connection_push(conn, "Push", "Data", (const uint8_t *)data, strlen(data), NULL, 0,
                                 &err) != RPCX_OK) {
            rpcx_responder_error(resp, rpcx_error_message(err, NULL), NULL, 0);
            rpcx_error_free(err);
            rpcx_connection_free(conn);
            return;
        }
    }
    rpcx_connection_free(conn);
    char out[64];
    int n = snprintf(out, sizeof out, "{\"C\":%lld}", count);
    rpcx_responder_reply(resp, (const uint8_t *)out, (size_t)n, NULL);
}

/* Runs on an rpcx runtime thread; replies at once (quick work). */
static void arith(void *userdata, const rpcx_request *req, rpcx_responder *resp) {
    enum op op = *(const enum op *)userdata;
    if (rpcx_request_serialize_type(req) != RPCX_SERIALIZE_JSON) {
        rpcx_responder_error(resp, "arith_server.c speaks JSON only (serialize type 1)", NULL, 0);
        return;
    }
    size_t len = 0;
    const uint8_t *payload = rpcx_request_payload(req, &len);
    if (op == OP_PUSH) {
        push(req, payload, len, resp);
        return;
    }
    long long a = 0, b = 0;
    if (!parse_args(payload, len, &a, &b)) {
        rpcx_responder_error(resp, "expected {\"A\":int,\"B\":int}", NULL, 0);
        return;
    }
    char out[64];
    long long c = 0;
    rpcx_metadata *reply_meta = NULL;
    switch (op) {
    case OP_MUL:
        c = a * b;
        break;
    case OP_ADD:
        c = a + b;
        break;
    case OP_DIV:
        if (b == 0) {
            static const char zero[] = "{\"C\":0}";
            rpcx_responder_error(resp, "divide by zero", (const uint8_t *)zero, sizeof zero - 1);
            return;
        }
        c = a / b;
        break;
    case OP_META: {
        const rpcx_metadata *in = rpcx_request_metadata(req);
        reply_meta = rpcx_metadata_new();
        for (size_t i = 0; i < rpcx_metadata_len(in); i++) {
            const char *k = NULL, *v = NULL;
            char key[512];
            if (rpcx_metadata_at(in, i, &k, &v) != RPCX_OK) continue;
            snprintf(key, sizeof key, "echo-%s", k);
            rpcx_metadata_set(reply_meta, key, v);
        }
        c = (long long)rpcx_metadata_len(in);
        break;
    }
    case OP_PUSH: /* answered above */
        break;
    }
    int n = snprintf(out, sizeof out, "{\"C\":%lld}", c);
    rpcx_responder_reply(resp, (const uint8_t *)out, (size_t)n, reply_meta); /* meta copied */
    rpcx_metadata_free(reply_meta);
}

/* A call observer: one access-log line per completed call (on a runtime thread). */
static void log_call(void *userdata, const char *service, const char *method, const char *peer,
                     uint64_t duration_us, const char *error) {
    (void)userdata;
    fprintf(stderr, "arith_server: %s.%s from %s in %" PRIu64 " us%s%s\n", service, method, peer,
            duration_us, error ? ": error: " : "", error ? error : "");
}

/* Watches a piped stdin: a line or its end asks the main thread to stop (raises SIGTERM,
 * which every thread blocks, so the main thread's sigwait takes it). */
static void *watch_stdin(void *unused) {
    char line[64];
    (void)unused;
    (void)fgets(line, sizeof line, stdin);
    kill(getpid(), SIGTERM);
    return NULL;
}

static const char usage[] =
    "usage: arith_server [ADDRESS]   (default tcp@127.0.0.1:0)\n"
    "Serves Arith over JSON (serialize type 1) until SIGINT or SIGTERM (or, when stdin is a\n"
    "pipe, until it closes or a line is read), then prints its metrics on stderr.\n"
    "Methods:\n"
    "  Arith.Mul  {\"A\":int,\"B\":int} -> {\"C\":A*B}\n"
    "  Arith.Add  {\"A\":int,\"B\":int} -> {\"C\":A+B}\n"
    "  Arith.Div  {\"A\":int,\"B\":int} -> {\"C\":A/B}; B = 0: error \"divide by zero\"\n"
    "  Arith.Meta {\"A\":int,\"B\":int} -> {\"C\":number of metadata pairs}, each pair k=v\n"
    "             echoed as reply metadata echo-k=v\n"
    "  Arith.Push {\"Count\":0..100,\"Data\":string} -> pushes Push.Data with payload Data\n"
    "             Count times to the caller, then {\"C\":Count}\n";

int main(int argc, char **argv) {
    static const enum op mul = OP_MUL, add = OP_ADD, div = OP_DIV, meta = OP_META,
                         push_op = OP_PUSH;
    if (argc > 1 && (strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0)) {
        fputs(usage, stdout);
        return 0;
    }
    if (argc > 2 || (argc == 2 && argv[1][0] == '-')) {
        fputs(usage, stderr);
        return 2;
    }
    const char *listen = argc > 1 ? argv[1] : "tcp@127.0.0.1:0";
    rpcx_server *server = NULL;
    rpcx_error *err = NULL;
    uint16_t port = 0;

    /* Block SIGINT and SIGTERM before any thread starts (rpcx's runtime threads start with the
     * server and inherit the mask), so only the sigwait below receives them. */
    sigset_t stop;
    sigemptyset(&stop);
    sigaddset(&stop, SIGINT);
    sigaddset(&stop, SIGTERM);
    if (pthread_sigmask(SIG_BLOCK, &stop, NULL) != 0) {
        fprintf(stderr, "arith_server: cannot block SIGINT/SIGTERM\n");
        return 1;
    }

    if (rpcx_server_new(NULL, &server) != RPCX_OK || rpcx_server_enable_metrics(server) != RPCX_OK ||
        rpcx_server_add_call_observer(server, log_call, NULL, NULL) != RPCX_OK ||
        rpcx_server_register(server, "Arith", "Mul", arith, (void *)&mul, NULL) != RPCX_OK ||
        rpcx_server_register(server, "Arith", "Add", arith, (void *)&add, NULL) != RPCX_OK ||
        rpcx_server_register(server, "Arith", "Div", arith, (void *)&div, NULL) != RPCX_OK ||
        rpcx_server_register(server, "Arith", "Meta", arith, (void *)&meta, NULL) != RPCX_OK ||
        rpcx_server_register(server, "Arith", "Push", arith, (void *)&push_op, NULL) != RPCX_OK ||
        rpcx_server_start(server, listen, &port, &err) != RPCX_OK) {
        fprintf(stderr, "arith_server: %s\n", err ? rpcx_error_message(err, NULL) : "setup failed");
        rpcx_error_free(err);
        rpcx_server_free(server);
        return 1;
    }
    printf("LISTENING %s\n", rpcx_server_address(server));
    fflush(stdout);

    struct stat in;
    if (fstat(STDIN_FILENO, &in) == 0 && (S_ISFIFO(in.st_mode) || S_ISSOCK(in.st_mode))) {
        pthread_t watcher;
        if (pthread_create(&watcher, NULL, watch_stdin, NULL) == 0) pthread_detach(watcher);
    }
    int sig = 0;
    sigwait(&stop, &sig); /* serve until SIGINT or SIGTERM (or the stdin watcher's SIGTERM) */
    rpcx_server_shutdown(server, 2000); /* in-flight calls finish within 2 s */
    rpcx_buf metrics = {NULL, 0, NULL};
    if (rpcx_server_metrics_text(server, &metrics) == RPCX_OK) {
        fprintf(stderr, "%.*s", (int)metrics.len, (const char *)metrics.data);
        rpcx_buf_free(&metrics);
    }
    rpcx_server_free(server);
    return 0;
}
