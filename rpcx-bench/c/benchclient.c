/* The community rpcx benchmark workload (github.com/rpcxio/rpcx-benchmark; docs/benchmarks.md) through the C ABI:
 * closed-loop `Hello.Say` calls with the 581-byte protobuf BenchmarkMessage, C callers over a
 * pool of P clients, for D seconds; prints one JSON line like `rpcx-bench client` and the Go
 * benchclient do. Used by scripts/bench/clients.d/c-abi.sh (`make bench`).
 *
 *   benchclient --addr tcp@127.0.0.1:PORT [-c 100] [--pool 10] [-d 10]
 *
 * Each caller is a chain of async calls: the completion callback (on an rpcx runtime thread)
 * checks the reply and starts the caller's next call, so C calls are in flight at any time
 * and no C thread blocks. Every call encodes the message (into the caller's buffer) and
 * decodes the reply's field1/field2 (a small protobuf scanner: the C side has no protobuf
 * library), checking field1 == "OK" and field2 == 100 as the Go client does. */
#define _POSIX_C_SOURCE 200809L
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <rpcx.h>

static const char FILL[] = "许多往事在眼前一幕一幕，变的那麼模糊";

/* ---- protobuf, just enough for BenchmarkMessage ---- */

static size_t put_varint(uint8_t *p, uint64_t v) {
    size_t n = 0;
    while (v >= 0x80) {
        p[n++] = (uint8_t)(v | 0x80);
        v >>= 7;
    }
    p[n++] = (uint8_t)v;
    return n;
}

static size_t put_key(uint8_t *p, unsigned tag, unsigned wire) {
    return put_varint(p, ((uint64_t)tag << 3) | wire);
}

/* The filled message's fields in tag order: kind 's' = the fill string, 'i' = 100000,
 * 'b' = true (as BenchmarkMessage::filled() in rpcx-core). */
static const struct field {
    unsigned tag;
    char kind;
} FIELDS[] = {
    {1, 's'},   {2, 'i'},   {3, 'i'},   {4, 's'},   {6, 'i'},   {7, 's'},   {9, 's'},
    {12, 'b'},  {13, 'b'},  {14, 'b'},  {16, 'i'},  {17, 'b'},  {18, 's'},  {22, 'i'},
    {23, 'i'},  {24, 'b'},  {25, 'i'},  {29, 'i'},  {30, 'b'},  {59, 'b'},  {60, 'i'},
    {67, 'i'},  {68, 'i'},  {78, 'b'},  {80, 'b'},  {81, 'b'},  {100, 'i'}, {101, 'i'},
    {102, 's'}, {103, 's'}, {104, 'i'}, {128, 'i'}, {129, 's'}, {130, 'i'}, {131, 'i'},
    {150, 'i'}, {271, 'i'}, {272, 'i'}, {280, 'i'},
};

/* Encodes the filled message into out (at most 1024 bytes). */
static size_t encode_message(uint8_t *out) {
    size_t n = 0, slen = sizeof FILL - 1;
    for (size_t f = 0; f < sizeof FIELDS / sizeof *FIELDS; f++) {
        switch (FIELDS[f].kind) {
        case 's':
            n += put_key(out + n, FIELDS[f].tag, 2);
            n += put_varint(out + n, slen);
            memcpy(out + n, FILL, slen);
            n += slen;
            break;
        case 'i':
            n += put_key(out + n, FIELDS[f].tag, 0);
            n += put_varint(out + n, 100000);
            break;
        default:
            n += put_key(out + n, FIELDS[f].tag, 0);
            out[n++] = 1;
        }
    }
    return n;
}

static int get_varint(const uint8_t **p, const uint8_t *end, uint64_t *v) {
    *v = 0;
    for (unsigned shift = 0; shift < 64 && *p < end; shift += 7) {
        uint8_t b = *(*p)++;
        *v |= (uint64_t)(b & 0x7f) << shift;
        if (!(b & 0x80)) return 1;
    }
    return 0;
}

/* 1 when the reply has field1 == "OK" and field2 == 100. */
static int reply_ok(const uint8_t *p, size_t len) {
    const uint8_t *end = p + len;
    int f1 = 0, f2 = 0;
    while (p < end) {
        uint64_t key, v;
        if (!get_varint(&p, end, &key)) return 0;
        unsigned tag = (unsigned)(key >> 3), wire = (unsigned)(key & 7);
        switch (wire) {
        case 0:
            if (!get_varint(&p, end, &v)) return 0;
            if (tag == 2) f2 = v == 100;
            break;
        case 1:
            if (end - p < 8) return 0;
            p += 8;
            break;
        case 2:
            if (!get_varint(&p, end, &v) || v > (uint64_t)(end - p)) return 0;
            if (tag == 1) f1 = v == 2 && memcmp(p, "OK", 2) == 0;
            p += v;
            break;
        case 5:
            if (end - p < 4) return 0;
            p += 4;
            break;
        default:
            return 0;
        }
    }
    return f1 && f2;
}

/* ---- the load ---- */

static double now_s(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

struct caller {
    const rpcx_client *client;
    uint8_t request[1024];
    double started;
    uint32_t *lat_us; /* latencies of this caller's calls; one call in flight at a time */
    size_t n, cap;
    uint64_t errors;
    char first_error[256];
};

static pthread_mutex_t done_lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t done_cond = PTHREAD_COND_INITIALIZER;
static size_t active;
static double deadline;

static void finish_caller(void) {
    pthread_mutex_lock(&done_lock);
    active--;
    pthread_cond_signal(&done_cond);
    pthread_mutex_unlock(&done_lock);
}

static void on_reply(void *ud, uint64_t call_id, rpcx_status status, const uint8_t *reply,
                     size_t reply_len, const rpcx_metadata *meta, const rpcx_error *err);

static void start_call(struct caller *c) {
    size_t len = encode_message(c->request);
    c->started = now_s();
    rpcx_status st = rpcx_client_call_async(c->client, "Hello", "Say", c->request, len, NULL,
                                            0, on_reply, c, NULL);
    if (st != RPCX_OK) {
        c->errors++;
        if (!c->first_error[0])
            snprintf(c->first_error, sizeof c->first_error, "call_async: %s", rpcx_status_str(st));
        finish_caller();
    }
}

static void on_reply(void *ud, uint64_t call_id, rpcx_status status, const uint8_t *reply,
                     size_t reply_len, const rpcx_metadata *meta, const rpcx_error *err) {
    (void)call_id;
    (void)meta;
    struct caller *c = ud;
    double t = now_s();
    if (c->n == c->cap) {
        c->cap = c->cap ? c->cap * 2 : 4096;
        c->lat_us = realloc(c->lat_us, c->cap * sizeof *c->lat_us);
        if (!c->lat_us) abort();
    }
    c->lat_us[c->n++] = (uint32_t)((t - c->started) * 1e6);
    if (status != RPCX_OK || !reply_ok(reply, reply_len)) {
        c->errors++;
        if (!c->first_error[0])
            snprintf(c->first_error, sizeof c->first_error, "%s: %s", rpcx_status_str(status),
                     status != RPCX_OK ? rpcx_error_message(err, NULL) : "bad reply fields");
    }
    if (t < deadline && status != RPCX_ERR_CLOSED)
        start_call(c);
    else
        finish_caller();
}

static int cmp_u32(const void *a, const void *b) {
    uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;
    return x < y ? -1 : x > y;
}

static double pct_ms(const uint32_t *s, size_t n, double q) {
    if (n == 0) return 0;
    size_t rank = (size_t)(q * (double)n + 0.999999);
    if (rank < 1) rank = 1;
    if (rank > n) rank = n;
    return s[rank - 1] / 1000.0;
}

int main(int argc, char **argv) {
    const char *addr = NULL;
    size_t conc = 100, pool = 10;
    double secs = 10;
    for (int i = 1; i + 1 < argc; i += 2) {
        if (!strcmp(argv[i], "--addr")) addr = argv[i + 1];
        else if (!strcmp(argv[i], "-c")) conc = strtoul(argv[i + 1], NULL, 10);
        else if (!strcmp(argv[i], "--pool")) pool = strtoul(argv[i + 1], NULL, 10);
        else if (!strcmp(argv[i], "-d")) secs = strtod(argv[i + 1], NULL);
        else {
            fprintf(stderr, "unknown argument %s\n", argv[i]);
            return 2;
        }
    }
    if (!addr || conc == 0 || pool == 0) {
        fprintf(stderr, "usage: benchclient --addr A [-c C] [--pool P] [-d SECONDS]\n");
        return 2;
    }
    uint8_t probe[1024];
    if (encode_message(probe) != 581) {
        fprintf(stderr, "BenchmarkMessage encodes to %zu bytes, not 581\n", encode_message(probe));
        return 1;
    }

    rpcx_client **clients = calloc(pool, sizeof *clients);
    struct caller *callers = calloc(conc, sizeof *callers);
    rpcx_client_options *opts = rpcx_client_options_new();
    rpcx_client_options_set_serialize_type(opts, RPCX_SERIALIZE_PROTOBUF);
    for (size_t i = 0; i < pool; i++) {
        rpcx_error *err = NULL;
        if (rpcx_client_connect(addr, opts, &clients[i], &err) != RPCX_OK) {
            fprintf(stderr, "connect %s: %s\n", addr, rpcx_error_message(err, NULL));
            return 1;
        }
        /* A few warm-up calls per connection, checked. */
        for (int w = 0; w < 5; w++) {
            rpcx_buf reply = {NULL, 0, NULL};
            size_t len = encode_message(probe);
            if (rpcx_client_call(clients[i], "Hello", "Say", probe, len, NULL, 0, &reply, NULL,
                                 &err) != RPCX_OK) {
                fprintf(stderr, "warm-up: %s\n", rpcx_error_message(err, NULL));
                return 1;
            }
            int ok = reply_ok(reply.data, reply.len);
            rpcx_buf_free(&reply);
            if (!ok) {
                fprintf(stderr, "warm-up: bad reply fields\n");
                return 1;
            }
        }
    }
    rpcx_client_options_free(opts);

    double start = now_s();
    deadline = start + secs;
    active = conc;
    for (size_t i = 0; i < conc; i++) {
        callers[i].client = clients[i % pool];
        start_call(&callers[i]);
    }
    pthread_mutex_lock(&done_lock);
    while (active > 0) pthread_cond_wait(&done_cond, &done_lock);
    pthread_mutex_unlock(&done_lock);
    double elapsed = now_s() - start;

    size_t total = 0;
    uint64_t errors = 0;
    const char *first_error = "";
    for (size_t i = 0; i < conc; i++) {
        total += callers[i].n;
        errors += callers[i].errors;
        if (!first_error[0] && callers[i].first_error[0]) first_error = callers[i].first_error;
    }
    /* Keep the JSON valid whatever the error text holds. */
    static char safe_error[256];
    for (size_t i = 0; first_error[i] && i + 1 < sizeof safe_error; i++)
        safe_error[i] = first_error[i] == '"' || first_error[i] == '\\' || (unsigned char)first_error[i] < ' '
                            ? '\''
                            : first_error[i];
    uint32_t *all = malloc((total ? total : 1) * sizeof *all);
    size_t k = 0;
    double sum = 0;
    for (size_t i = 0; i < conc; i++) {
        for (size_t j = 0; j < callers[i].n; j++) {
            all[k++] = callers[i].lat_us[j];
            sum += callers[i].lat_us[j];
        }
    }
    qsort(all, total, sizeof *all, cmp_u32);
    printf("{\"client\":\"c-abi\",\"requests\":%zu,\"errors\":%llu,\"seconds\":%.3f,\"rps\":%.1f,"
           "\"mean_ms\":%.3f,\"p50_ms\":%.3f,\"p99_ms\":%.3f,\"p999_ms\":%.3f,\"max_ms\":%.3f,"
           "\"first_error\":\"%s\"}\n",
           total, (unsigned long long)errors, elapsed, total / elapsed,
           total ? sum / total / 1000.0 : 0.0, pct_ms(all, total, 0.5), pct_ms(all, total, 0.99),
           pct_ms(all, total, 0.999), total ? all[total - 1] / 1000.0 : 0.0, safe_error);
    for (size_t i = 0; i < pool; i++) rpcx_client_free(clients[i]);
    for (size_t i = 0; i < conc; i++) free(callers[i].lat_us);
    free(all);
    free(callers);
    free(clients);
    return errors ? 1 : 0;
}
