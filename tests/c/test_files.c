/* File transfer and streams through the C API: a C server (upload and download directories, a
 * stream echo callback) and C clients (XClient and plain client): 4 MiB up and down compared
 * byte for byte, 1,000 stream messages echoed, traversal and missing files refused with the
 * partial download removed, NULL and invalid arguments refused; then the same client calls
 * against the Rust arith_server example (`--files DIR --stream-echo`, from RPCX_ARITH_SERVER;
 * that part is skipped without it). */
#define _POSIX_C_SOURCE 200809L
#include <signal.h>
#include <spawn.h>
#include <stdint.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <unistd.h>

#include "testutil.h"

extern char **environ;

#define FILE_SIZE (4u * 1024u * 1024u)
#define MESSAGES 1000

static atomic_int streams_done;
static atomic_int finalized;

static void path_join(char *out, size_t cap, const char *dir, const char *name) {
    int n = snprintf(out, cap, "%s/%s", dir, name);
    CHECK(n > 0 && (size_t)n < cap);
}

static unsigned char *pattern(size_t len, uint32_t seed) {
    unsigned char *p = malloc(len);
    CHECK(p != NULL);
    uint32_t x = seed;
    for (size_t i = 0; i < len; i++) {
        x = x * 1664525u + 1013904223u;
        p[i] = (unsigned char)(x >> 24);
    }
    return p;
}

static void write_file(const char *path, const unsigned char *data, size_t len) {
    FILE *f = fopen(path, "wb");
    CHECK(f != NULL);
    CHECK(fwrite(data, 1, len, f) == len);
    CHECK(fclose(f) == 0);
}

/* The file's bytes equal data[0..len). */
static void check_file(const char *path, const unsigned char *data, size_t len) {
    FILE *f = fopen(path, "rb");
    if (f == NULL) {
        fprintf(stderr, "missing file %s\n", path);
        exit(1);
    }
    unsigned char *got = malloc(len + 1);
    CHECK(got != NULL);
    size_t n = fread(got, 1, len + 1, f);
    fclose(f);
    CHECK(n == len);
    CHECK(memcmp(got, data, len) == 0);
    free(got);
}

static int exists(const char *path) {
    struct stat st;
    return stat(path, &st) == 0;
}

/* Server side: echo everything until the client closes its writing side. */
static void echo_stream(void *ud, rpcx_stream *s, const rpcx_metadata *meta, const char *peer) {
    (void)ud;
    CHECK(peer != NULL && strchr(peer, ':') != NULL);
    const char *v = meta_get(meta, "who");
    CHECK(v == NULL || strcmp(v, "c-test") == 0);
    CHECK_OK(rpcx_stream_set_timeout_ms(s, 30000));
    unsigned char buf[65536];
    for (;;) {
        size_t n = 0;
        if (rpcx_stream_read(s, buf, sizeof buf, &n, NULL) != RPCX_OK || n == 0) {
            break;
        }
        if (rpcx_stream_write(s, buf, n, NULL) != RPCX_OK) {
            break;
        }
    }
    rpcx_stream_close(s);
    atomic_fetch_add(&streams_done, 1);
}

static void count_final(void *ud) {
    (void)ud;
    atomic_fetch_add(&finalized, 1);
}

/* Reads exactly len bytes. */
static void read_exact(rpcx_stream *s, unsigned char *buf, size_t len) {
    size_t got = 0;
    while (got < len) {
        size_t n = 0;
        rpcx_error *err = NULL;
        CHECK_CALL(rpcx_stream_read(s, buf + got, len - got, &n, &err), &err);
        CHECK(n > 0);
        got += n;
    }
}

/* MESSAGES messages of varying sizes written and read back, then end of stream both ways. */
static void echo_messages(rpcx_stream *s) {
    CHECK_OK(rpcx_stream_set_timeout_ms(s, 30000));
    unsigned char msg[1500], back[1500];
    for (int i = 0; i < MESSAGES; i++) {
        size_t len = 1 + (size_t)(i * 37) % sizeof msg;
        for (size_t j = 0; j < len; j++) {
            msg[j] = (unsigned char)(i + j);
        }
        rpcx_error *err = NULL;
        CHECK_CALL(rpcx_stream_write(s, msg, len, &err), &err);
        read_exact(s, back, len);
        CHECK(memcmp(msg, back, len) == 0);
    }
    CHECK_OK(rpcx_stream_close_write(s));
    size_t n = 1;
    CHECK_OK(rpcx_stream_read(s, back, sizeof back, &n, NULL));
    CHECK(n == 0);
    rpcx_stream_close(s);
}

static void expect_failure(rpcx_status got, rpcx_status want, rpcx_error *err,
                           const char *needle) {
    if (got != want) {
        fprintf(stderr, "got %s (%s), want %s\n", rpcx_status_str((int)got), err_text(err),
                rpcx_status_str((int)want));
        exit(1);
    }
    if (needle != NULL && strstr(err_text(err), needle) == NULL) {
        fprintf(stderr, "error \"%s\" does not mention \"%s\"\n", err_text(err), needle);
        exit(1);
    }
    rpcx_error_free(err);
}

/* Runs `expr` (which writes the `err` in scope), then checks its status and message. */
#define EXPECT_FAIL(expr, want, err_, needle)                                            \
    do {                                                                                 \
        rpcx_status st_ = (expr);                                                        \
        expect_failure(st_, (want), (err_), (needle));                                   \
        (err_) = NULL;                                                                   \
    } while (0)

static rpcx_xclient *xclient_of(const char *address, const char *service) {
    rpcx_discovery *d = NULL;
    CHECK_OK(rpcx_discovery_new_peer(address, NULL, &d));
    rpcx_xclient_options *o = rpcx_xclient_options_new();
    CHECK_OK(rpcx_xclient_options_set_timeout_ms(o, 30000));
    rpcx_xclient *xc = NULL;
    rpcx_error *err = NULL;
    CHECK_CALL(rpcx_xclient_new(service, d, o, &xc, &err), &err);
    rpcx_xclient_options_free(o);
    rpcx_discovery_free(d);
    return xc;
}

/* Upload, download and stream through a plain client against a server at `address` with
 * these upload and download directories. */
static void plain_client_round(const char *address, const char *up_dir, const char *down_dir,
                               const char *work, int go) {
    rpcx_client *c = NULL;
    rpcx_error *err = NULL;
    CHECK_CALL(test_connect(address, &c, &err), &err);
    unsigned char *data = pattern(FILE_SIZE / 2, 7);
    char src[512], dst[512], there[512];
    path_join(src, sizeof src, work, "plain-up.bin");
    write_file(src, data, FILE_SIZE / 2);
    uint64_t n = 0;
    CHECK_CALL(rpcx_client_send_file(c, "_filetransfer", src, 0, NULL, &n, &err), &err);
    CHECK(n == FILE_SIZE / 2);
    path_join(there, sizeof there, up_dir, "plain-up.bin");
    check_file(there, data, FILE_SIZE / 2);
    path_join(there, sizeof there, down_dir, "plain-served.bin");
    write_file(there, data, FILE_SIZE / 2);
    path_join(dst, sizeof dst, work, "plain-down.bin");
    n = 0;
    CHECK_CALL(
        rpcx_client_download_file(c, "_filetransfer", "plain-served.bin", dst, NULL, &n, &err),
        &err);
    CHECK(n == FILE_SIZE / 2);
    check_file(dst, data, FILE_SIZE / 2);
    if (!go) { /* Go's server takes the base name: no refusal there */
        EXPECT_FAIL(rpcx_client_download_file(c, "_filetransfer", "../x", dst, NULL, NULL, &err),
                    RPCX_ERR_SERVER, err, NULL);
    }
    rpcx_stream *s = NULL;
    CHECK_CALL(rpcx_client_stream(c, "_streamservice", NULL, &s, &err), &err);
    echo_messages(s);
    rpcx_client_free(c);
    free(data);
}

static void c_server_tests(const char *work) {
    atomic_store(&finalized, 0);
    char up[512], down[512];
    path_join(up, sizeof up, work, "up");
    path_join(down, sizeof down, work, "down");
    CHECK(mkdir(up, 0700) == 0 && mkdir(down, 0700) == 0);

    rpcx_server *server = NULL;
    CHECK_OK(rpcx_server_new(NULL, &server));
    rpcx_transfer_options *o = rpcx_transfer_options_new();
    CHECK(o != NULL);
    CHECK_OK(rpcx_transfer_options_set_max_file_size(o, 8u * 1024u * 1024u));
    CHECK_OK(rpcx_transfer_options_set_token_ttl_ms(o, 60000));
    CHECK_OK(rpcx_transfer_options_set_advertise_addr(o, NULL));
    /* Refused settings leave the options as they were. */
    CHECK_STATUS(rpcx_transfer_options_set_token_ttl_ms(o, 0), RPCX_ERR_INVALID_ARG);
    CHECK_STATUS(rpcx_transfer_options_set_max_concurrent(o, 0), RPCX_ERR_INVALID_ARG);
    CHECK_STATUS(rpcx_transfer_options_set_listen(o, ""), RPCX_ERR_INVALID_ARG);
    rpcx_error *err = NULL;
    CHECK_CALL(rpcx_server_enable_file_transfer(server, o, up, down, &err), &err);
    /* Registered twice: the first one's finalizer runs at once. */
    CHECK_OK(rpcx_server_register_stream(server, o, echo_stream, NULL, count_final));
    CHECK(atomic_load(&finalized) == 0);
    CHECK_OK(rpcx_server_register_stream(server, o, echo_stream, NULL, count_final));
    CHECK(atomic_load(&finalized) == 1);
    rpcx_transfer_options_free(o);
    uint16_t port = 0;
    CHECK_CALL(rpcx_server_start(server, "tcp@127.0.0.1:0", &port, &err), &err);
    const char *address = rpcx_server_address(server);
    /* After start: refused, the finalizer called. */
    EXPECT_FAIL(rpcx_server_enable_file_transfer(server, NULL, up, NULL, &err),
                   RPCX_ERR_INVALID_STATE, err, NULL);
    CHECK_STATUS(rpcx_server_register_stream(server, NULL, echo_stream, NULL, count_final),
                 RPCX_ERR_INVALID_STATE);
    CHECK(atomic_load(&finalized) == 2);

    /* Upload 4 MiB. */
    rpcx_xclient *files = xclient_of(address, "_filetransfer");
    unsigned char *data = pattern(FILE_SIZE, 1);
    char src[512], there[512], dst[512], part[600];
    path_join(src, sizeof src, work, "big.bin");
    write_file(src, data, FILE_SIZE);
    rpcx_metadata *md = rpcx_metadata_new();
    CHECK_OK(rpcx_metadata_set(md, "who", "c-test"));
    uint64_t n = 0;
    CHECK_CALL(rpcx_xclient_send_file(files, src, 0, md, &n, &err), &err);
    CHECK(n == FILE_SIZE);
    path_join(there, sizeof there, up, "big.bin");
    check_file(there, data, FILE_SIZE);

    /* Download 4 MiB (another pattern) into a new file, then over an existing one. */
    unsigned char *data2 = pattern(FILE_SIZE, 2);
    path_join(there, sizeof there, down, "served.bin");
    write_file(there, data2, FILE_SIZE);
    path_join(dst, sizeof dst, work, "got.bin");
    n = 0;
    CHECK_CALL(rpcx_xclient_download_file(files, "served.bin", dst, md, &n, &err), &err);
    CHECK(n == FILE_SIZE);
    check_file(dst, data2, FILE_SIZE);
    CHECK_CALL(rpcx_xclient_download_file(files, "served.bin", dst, NULL, NULL, &err), &err);
    check_file(dst, data2, FILE_SIZE);

    /* Refusals: traversal, absolute, missing; the earlier download stays intact and no
     * partial file is left. */
    EXPECT_FAIL(rpcx_xclient_download_file(files, "../up/big.bin", dst, NULL, NULL, &err),
                   RPCX_ERR_SERVER, err, NULL);
    EXPECT_FAIL(rpcx_xclient_download_file(files, "/etc/passwd", dst, NULL, NULL, &err),
                   RPCX_ERR_SERVER, err, NULL);
    EXPECT_FAIL(rpcx_xclient_download_file(files, "nope.bin", dst, NULL, NULL, &err),
                   RPCX_ERR_SERVER, err, NULL);
    check_file(dst, data2, FILE_SIZE);
    snprintf(part, sizeof part, "%s.rpcx-part", dst);
    CHECK(!exists(part));
    /* A local file that does not exist, a destination directory that does not exist. */
    path_join(there, sizeof there, work, "absent.bin");
    EXPECT_FAIL(rpcx_xclient_send_file(files, there, 0, NULL, NULL, &err), RPCX_ERR_IO, err,
                   NULL);
    path_join(there, sizeof there, work, "no-dir/x.bin");
    EXPECT_FAIL(rpcx_xclient_download_file(files, "served.bin", there, NULL, NULL, &err),
                   RPCX_ERR_IO, err, NULL);
    /* Over the 8 MiB limit: refused in the call's reply, nothing saved. */
    unsigned char *big = pattern(9u * 1024u * 1024u, 3);
    path_join(src, sizeof src, work, "huge.bin");
    write_file(src, big, 9u * 1024u * 1024u);
    free(big);
    EXPECT_FAIL(rpcx_xclient_send_file(files, src, 0, NULL, NULL, &err), RPCX_ERR_SERVER, err,
                   NULL);
    path_join(there, sizeof there, up, "huge.bin");
    CHECK(!exists(there));

    /* Streams: 1,000 messages echoed, twice (two streams at once). */
    rpcx_xclient *streams = xclient_of(address, "_streamservice");
    rpcx_stream *s1 = NULL, *s2 = NULL;
    CHECK_CALL(rpcx_xclient_stream(streams, md, &s1, &err), &err);
    CHECK_CALL(rpcx_xclient_stream(streams, NULL, &s2, &err), &err);
    echo_messages(s1);
    echo_messages(s2);
    wait_for(&streams_done, 2, 30000, "stream callbacks");

    /* NULL and invalid arguments. */
    rpcx_stream *none = NULL;
    CHECK_STATUS(rpcx_xclient_send_file(NULL, src, 0, NULL, NULL, NULL), RPCX_ERR_NULL_ARG);
    CHECK_STATUS(rpcx_xclient_send_file(files, NULL, 0, NULL, NULL, NULL), RPCX_ERR_NULL_ARG);
    CHECK_STATUS(rpcx_xclient_download_file(files, NULL, dst, NULL, NULL, NULL),
                 RPCX_ERR_NULL_ARG);
    CHECK_STATUS(rpcx_xclient_download_file(files, "served.bin", NULL, NULL, NULL, NULL),
                 RPCX_ERR_NULL_ARG);
    CHECK_STATUS(rpcx_xclient_stream(streams, NULL, NULL, NULL), RPCX_ERR_NULL_ARG);
    CHECK_STATUS(rpcx_xclient_stream(NULL, NULL, &none, NULL), RPCX_ERR_NULL_ARG);
    CHECK(none == NULL);
    CHECK_STATUS(rpcx_client_send_file(NULL, "_filetransfer", src, 0, NULL, NULL, NULL),
                 RPCX_ERR_NULL_ARG);
    CHECK_STATUS(rpcx_client_stream(NULL, "_streamservice", NULL, &none, NULL), RPCX_ERR_NULL_ARG);
    const char bad[] = {'\xff', '\xfe', 0};
    CHECK_STATUS(rpcx_xclient_send_file(files, bad, 0, NULL, NULL, NULL), RPCX_ERR_INVALID_ARG);
    size_t got = 0;
    unsigned char b[4];
    CHECK_STATUS(rpcx_stream_read(NULL, b, sizeof b, &got, NULL), RPCX_ERR_NULL_ARG);
    CHECK_STATUS(rpcx_stream_write(NULL, b, sizeof b, NULL), RPCX_ERR_NULL_ARG);
    CHECK_STATUS(rpcx_stream_close_write(NULL), RPCX_ERR_NULL_ARG);
    CHECK_STATUS(rpcx_stream_set_timeout_ms(NULL, 1), RPCX_ERR_NULL_ARG);
    rpcx_stream_close(NULL);
    rpcx_transfer_options_free(NULL);
    CHECK_STATUS(rpcx_transfer_options_set_max_tokens(NULL, 1), RPCX_ERR_NULL_ARG);

    plain_client_round(address, up, down, work, 0);
    wait_for(&streams_done, 3, 30000, "stream callbacks");

    rpcx_metadata_free(md);
    rpcx_xclient_free(files);
    rpcx_xclient_free(streams);
    CHECK_OK(rpcx_server_shutdown(server, 1000));
    rpcx_server_free(server);
    wait_for(&finalized, 3, 30000, "the stream callback's finalizer");
    free(data);
    free(data2);
}

/* Server configuration refusals that need no running server. */
static void config_refusals(const char *work) {
    rpcx_server *server = NULL;
    CHECK_OK(rpcx_server_new(NULL, &server));
    rpcx_error *err = NULL;
    EXPECT_FAIL(rpcx_server_enable_file_transfer(server, NULL, NULL, NULL, &err),
                   RPCX_ERR_INVALID_ARG, err, NULL);
    char missing[512];
    path_join(missing, sizeof missing, work, "missing-dir");
    EXPECT_FAIL(rpcx_server_enable_file_transfer(server, NULL, missing, NULL, &err),
                   RPCX_ERR_IO, err, "missing-dir");
    EXPECT_FAIL(rpcx_server_enable_file_transfer(NULL, NULL, work, NULL, &err),
                   RPCX_ERR_NULL_ARG, err, NULL);
    CHECK_STATUS(rpcx_server_register_stream(server, NULL, NULL, NULL, count_final),
                 RPCX_ERR_NULL_ARG);
    CHECK(atomic_load(&finalized) == 1);
    /* A side listener that cannot bind fails the start. */
    rpcx_transfer_options *o = rpcx_transfer_options_new();
    CHECK_OK(rpcx_transfer_options_set_listen(o, "not-an-address"));
    CHECK_CALL(rpcx_server_enable_file_transfer(server, o, work, NULL, &err), &err);
    rpcx_transfer_options_free(o);
    CHECK(rpcx_server_start(server, "tcp@127.0.0.1:0", NULL, &err) != RPCX_OK);
    rpcx_error_free(err);
    rpcx_server_free(server);
}

/* Upload and download callbacks: uploads are collected in memory, downloads generated. */
static unsigned char *cb_received;
static size_t cb_received_len;
static atomic_int cb_uploads, cb_downloads;

static int on_upload(void *ud, rpcx_upload *up, const char *name, uint64_t size,
                     const rpcx_metadata *meta, const char *peer) {
    CHECK(ud == (void *)&cb_uploads);
    CHECK(peer != NULL && name != NULL);
    const char *abort_it = meta_get(meta, "abort");
    free(cb_received);
    cb_received = malloc(size + 1);
    CHECK(cb_received != NULL);
    size_t got = 0;
    for (;;) {
        size_t n = 0;
        rpcx_error *err = NULL;
        CHECK_CALL(rpcx_upload_read(up, cb_received + got, size + 1 - got, &n, &err), &err);
        if (n == 0) {
            break;
        }
        got += n;
        if (abort_it != NULL) {
            atomic_fetch_add(&cb_uploads, 1);
            return 0; /* refuse after the first chunk */
        }
    }
    CHECK(got == size);
    cb_received_len = got;
    atomic_fetch_add(&cb_uploads, 1);
    return 1;
}

/* "gen-<bytes>" writes pattern(bytes, 5) in uneven pieces; "broken" writes a little and
 * aborts. */
static int on_download(void *ud, rpcx_download *d, const char *name, const rpcx_metadata *meta,
                       const char *peer) {
    (void)meta;
    CHECK(ud == (void *)&cb_uploads && peer != NULL);
    atomic_fetch_add(&cb_downloads, 1);
    if (strcmp(name, "broken") == 0) {
        CHECK_OK(rpcx_download_write(d, (const uint8_t *)"partial", 7, NULL));
        return 0;
    }
    if (strncmp(name, "gen-", 4) != 0) {
        return 0;
    }
    size_t len = (size_t)strtoul(name + 4, NULL, 10);
    unsigned char *data = pattern(len, 5);
    size_t off = 0, piece = 1;
    while (off < len) {
        size_t n = len - off < piece ? len - off : piece;
        rpcx_error *err = NULL;
        CHECK_CALL(rpcx_download_write(d, data + off, n, &err), &err);
        off += n;
        piece = piece * 3 + 1;
    }
    free(data);
    return 1;
}

static void callback_tests(const char *work) {
    atomic_store(&finalized, 0);
    rpcx_server *server = NULL;
    CHECK_OK(rpcx_server_new(NULL, &server));
    rpcx_error *err = NULL;
    EXPECT_FAIL(rpcx_server_enable_file_callbacks(server, NULL, NULL, NULL, NULL, count_final,
                                                  &err),
                RPCX_ERR_INVALID_ARG, err, NULL);
    CHECK(atomic_load(&finalized) == 1);
    CHECK_CALL(rpcx_server_enable_file_callbacks(server, NULL, on_upload, on_download,
                                                 &cb_uploads, count_final, &err),
               &err);
    CHECK_CALL(rpcx_server_start(server, "tcp@127.0.0.1:0", NULL, &err), &err);
    rpcx_xclient *files = xclient_of(rpcx_server_address(server), "_filetransfer");

    unsigned char *data = pattern(FILE_SIZE, 4);
    char src[512], dst[512], part[600];
    path_join(src, sizeof src, work, "cb-up.bin");
    write_file(src, data, FILE_SIZE);
    uint64_t n = 0;
    CHECK_CALL(rpcx_xclient_send_file(files, src, 0, NULL, &n, &err), &err);
    /* The client is done once the server has every byte; the callback may still be running. */
    wait_for(&cb_uploads, 1, 30000, "the upload callback");
    CHECK(n == FILE_SIZE && cb_received_len == FILE_SIZE);
    CHECK(memcmp(cb_received, data, FILE_SIZE) == 0);
    rpcx_metadata *md = rpcx_metadata_new();
    CHECK_OK(rpcx_metadata_set(md, "abort", "1"));
    CHECK(rpcx_xclient_send_file(files, src, 0, md, NULL, &err) != RPCX_OK);
    rpcx_error_free(err);
    err = NULL;
    wait_for(&cb_uploads, 2, 30000, "the aborted upload callback");

    path_join(dst, sizeof dst, work, "cb-down.bin");
    CHECK_CALL(rpcx_xclient_download_file(files, "gen-3000001", dst, NULL, &n, &err), &err);
    CHECK(n == 3000001);
    unsigned char *want = pattern(3000001, 5);
    check_file(dst, want, 3000001);
    free(want);
    path_join(dst, sizeof dst, work, "cb-broken.bin");
    CHECK(rpcx_xclient_download_file(files, "broken", dst, NULL, NULL, &err) != RPCX_OK);
    rpcx_error_free(err);
    err = NULL;
    snprintf(part, sizeof part, "%s.rpcx-part", dst);
    CHECK(!exists(dst) && !exists(part));
    CHECK(atomic_load(&cb_downloads) == 2);
    CHECK_STATUS(rpcx_upload_read(NULL, NULL, 0, NULL, NULL), RPCX_ERR_NULL_ARG);
    CHECK_STATUS(rpcx_download_write(NULL, NULL, 0, NULL), RPCX_ERR_NULL_ARG);

    rpcx_metadata_free(md);
    rpcx_xclient_free(files);
    CHECK_OK(rpcx_server_shutdown(server, 1000));
    rpcx_server_free(server);
    /* The side listener's tasks hold the callbacks until they end, on the runtime. */
    wait_for(&finalized, 2, 30000, "the file callbacks' finalizer");
    free(data);
    free(cb_received);
    cb_received = NULL;
}

static atomic_int acceptor_calls;

/* Refuses streams whose metadata says deny=1; checks the request metadata it is given. */
static int accept_stream(void *ud, const rpcx_metadata *meta, const rpcx_metadata *request_meta,
                         const char *peer) {
    CHECK(ud == (void *)&acceptor_calls && peer != NULL && request_meta != NULL);
    atomic_fetch_add(&acceptor_calls, 1);
    return meta_get(meta, "deny") == NULL;
}

static void acceptor_tests(void) {
    atomic_store(&finalized, 0);
    rpcx_server *server = NULL;
    CHECK_OK(rpcx_server_new(NULL, &server));
    /* No stream service yet: refused, the finalizer called. */
    CHECK_STATUS(rpcx_server_set_stream_acceptor(server, accept_stream, &acceptor_calls,
                                                 count_final),
                 RPCX_ERR_NOT_FOUND);
    CHECK(atomic_load(&finalized) == 1);
    CHECK_STATUS(rpcx_server_set_stream_acceptor(server, NULL, NULL, count_final),
                 RPCX_ERR_NULL_ARG);
    CHECK(atomic_load(&finalized) == 2);
    CHECK_OK(rpcx_server_register_stream(server, NULL, echo_stream, NULL, count_final));
    CHECK_OK(rpcx_server_set_stream_acceptor(server, accept_stream, &acceptor_calls,
                                             count_final));
    rpcx_error *err = NULL;
    CHECK_CALL(rpcx_server_start(server, "tcp@127.0.0.1:0", NULL, &err), &err);
    rpcx_xclient *streams = xclient_of(rpcx_server_address(server), "_streamservice");
    rpcx_metadata *deny = rpcx_metadata_new();
    CHECK_OK(rpcx_metadata_set(deny, "deny", "1"));
    rpcx_stream *s = NULL;
    EXPECT_FAIL(rpcx_xclient_stream(streams, deny, &s, &err), RPCX_ERR_SERVER, err,
                "server refused the connection");
    CHECK(s == NULL);
    CHECK_CALL(rpcx_xclient_stream(streams, NULL, &s, &err), &err);
    echo_messages(s);
    CHECK(atomic_load(&acceptor_calls) == 2);
    rpcx_metadata_free(deny);
    rpcx_xclient_free(streams);
    CHECK_OK(rpcx_server_shutdown(server, 1000));
    rpcx_server_free(server);
    wait_for(&finalized, 4, 30000, "the stream and acceptor finalizers");
}

static pid_t server_pid;

/* Stops the peer server, also when a check fails and exits. */
static void stop_peer(void) {
    if (server_pid > 0) {
        kill(server_pid, SIGTERM);
        waitpid(server_pid, NULL, 0);
        server_pid = 0;
    }
}

/* A server in another process: the Rust arith_server (--files DIR --stream-echo) or Go's
 * rpcx FileTransfer and StreamService (tests/interop/go/cmd/gofiles -mode server -dir DIR):
 * upload, download, stream through the XClient and the plain client. */
static void peer_server_tests(const char *binary, int go, const char *work) {
    char dir[512];
    path_join(dir, sizeof dir, work, go ? "go" : "rust");
    CHECK(mkdir(dir, 0700) == 0);
    int fds[2];
    CHECK(pipe(fds) == 0);
    posix_spawn_file_actions_t fa;
    CHECK(posix_spawn_file_actions_init(&fa) == 0);
    CHECK(posix_spawn_file_actions_adddup2(&fa, fds[1], STDOUT_FILENO) == 0);
    CHECK(posix_spawn_file_actions_addclose(&fa, fds[0]) == 0);
    char *rust_argv[] = {(char *)binary, "--addr", "tcp@127.0.0.1:0", "--files", dir,
                         "--stream-echo", NULL};
    char *go_argv[] = {(char *)binary, "-mode", "server", "-addr", "tcp@127.0.0.1:0",
                       "-dir", dir, NULL};
    CHECK(posix_spawn(&server_pid, binary, &fa, NULL, go ? go_argv : rust_argv, environ) == 0);
    posix_spawn_file_actions_destroy(&fa);
    close(fds[1]);
    FILE *out = fdopen(fds[0], "r");
    CHECK(out != NULL);
    char line[256], address[256] = "";
    while (fgets(line, sizeof line, out) != NULL) {
        line[strcspn(line, "\r\n")] = 0;
        if (strncmp(line, "LISTENING ", 10) == 0) {
            snprintf(address, sizeof address, "%s", line + 10);
            break;
        }
    }
    /* Go's server prints a line per saved upload: keep its stdout drained. */
    if (!go) {
        fclose(out);
    }
    CHECK(address[0] != 0);

    rpcx_xclient *files = xclient_of(address, "_filetransfer");
    unsigned char *data = pattern(FILE_SIZE, 9);
    char src[512], there[512], dst[512];
    path_join(src, sizeof src, work, "to-rust.bin");
    write_file(src, data, FILE_SIZE);
    rpcx_error *err = NULL;
    uint64_t n = 0;
    CHECK_CALL(rpcx_xclient_send_file(files, src, 0, NULL, &n, &err), &err);
    CHECK(n == FILE_SIZE);
    path_join(there, sizeof there, dir, "to-rust.bin");
    check_file(there, data, FILE_SIZE);
    path_join(dst, sizeof dst, work, "from-rust.bin");
    CHECK_CALL(rpcx_xclient_download_file(files, "to-rust.bin", dst, NULL, &n, &err), &err);
    CHECK(n == FILE_SIZE);
    check_file(dst, data, FILE_SIZE);
    if (!go) {
        /* (Go's server takes the base name of what is asked: no refusal to check there.) */
        EXPECT_FAIL(rpcx_xclient_download_file(files, "../../etc/passwd", dst, NULL, NULL, &err),
                    RPCX_ERR_SERVER, err, NULL);
    }
    rpcx_xclient *streams = xclient_of(address, "_streamservice");
    rpcx_stream *s = NULL;
    CHECK_CALL(rpcx_xclient_stream(streams, NULL, &s, &err), &err);
    echo_messages(s);
    plain_client_round(address, dir, dir, work, go);
    rpcx_xclient_free(files);
    rpcx_xclient_free(streams);
    free(data);
    kill(server_pid, SIGTERM);
    int status = 0;
    waitpid(server_pid, &status, 0);
    server_pid = 0;
    if (go) {
        fclose(out);
    }
}

static void remove_tree(const char *dir) {
    char cmd[600];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
    CHECK(system(cmd) == 0);
}

int main(void) {
    char work[] = "/tmp/rpcx-test-files-XXXXXX";
    CHECK(mkdtemp(work) != NULL);
    atexit(stop_peer);
    config_refusals(work);
    c_server_tests(work);
    callback_tests(work);
    acceptor_tests();
    int valgrind = getenv("RPCX_UNDER_VALGRIND") != NULL;
    const char *binary = getenv("RPCX_ARITH_SERVER");
    if (binary != NULL && binary[0] != 0 && !valgrind) {
        peer_server_tests(binary, 0, work);
    } else {
        printf("test_files: Rust arith_server part skipped (RPCX_ARITH_SERVER unset or "
               "valgrind)\n");
    }
    binary = getenv("RPCX_GO_FILES");
    if (binary != NULL && binary[0] != 0 && !valgrind) {
        peer_server_tests(binary, 1, work);
    } else {
        printf("test_files: Go server part skipped (RPCX_GO_FILES unset or valgrind)\n");
    }
    remove_tree(work);
    printf("test_files: ok\n");
    return 0;
}
