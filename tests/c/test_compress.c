/* Compressors from C: a run-length compressor registered by callbacks (types 5 and 6) used by
 * a C client and a C server in both directions, snappy (type 2, built into librpcx), the
 * decompressed-size limit enforced on callback output, callback failures reported with their
 * text, unknown types refused, and the finalizer run once on unregistration. */
#include <stdint.h>
#include <stdlib.h>

#include "testutil.h"

static atomic_int compress_calls;
static atomic_int decompress_calls;
static atomic_int finalized;

/* (count 1..255, byte) pairs. */
static int rle_compress(void *ud, const uint8_t *in, size_t len, size_t max, rpcx_compress_output *out) {
    CHECK(ud == (void *)&finalized);
    CHECK(max == SIZE_MAX);
    CHECK(len == 0 || in != NULL);
    atomic_fetch_add(&compress_calls, 1);
    size_t i = 0;
    while (i < len) {
        uint8_t pair[2] = {1, in[i]};
        while (pair[0] < 255 && i + pair[0] < len && in[i + pair[0]] == in[i]) {
            pair[0]++;
        }
        if (rpcx_compress_output_write(out, pair, 2) != RPCX_OK) {
            return RPCX_COMPRESS_FAILED;
        }
        i += pair[0];
    }
    return RPCX_COMPRESS_OK;
}

static int rle_decompress(void *ud, const uint8_t *in, size_t len, size_t max, rpcx_compress_output *out) {
    CHECK(ud == (void *)&finalized);
    atomic_fetch_add(&decompress_calls, 1);
    if (len % 2 != 0) {
        rpcx_compress_output_set_error(out, "odd RLE length");
        return RPCX_COMPRESS_FAILED;
    }
    uint8_t run[255];
    for (size_t i = 0; i < len; i += 2) {
        memset(run, in[i + 1], in[i]);
        /* Over `max`: the write is refused and the frame is over the limit, whatever we return. */
        if (rpcx_compress_output_write(out, run, in[i]) != RPCX_OK) {
            return RPCX_COMPRESS_TOO_LARGE;
        }
    }
    (void)max;
    return RPCX_COMPRESS_OK;
}

/* Compresses fine, refuses every input on decompression with a message. */
static int refuse(void *ud, const uint8_t *in, size_t len, size_t max, rpcx_compress_output *out) {
    (void)ud, (void)in, (void)len, (void)max;
    CHECK_OK(rpcx_compress_output_set_error(out, "refused by test"));
    return 42;
}

static void count_finalizer(void *ud) {
    CHECK(ud == (void *)&finalized);
    atomic_fetch_add(&finalized, 1);
}

static void on_echo(void *ud, const rpcx_request *req, rpcx_responder *resp) {
    (void)ud;
    size_t len = 0;
    const uint8_t *data = rpcx_request_payload(req, &len);
    CHECK_OK(rpcx_responder_reply(resp, data, len, NULL));
}

static rpcx_client *connect_with(const char *addr, uint8_t type, size_t threshold, rpcx_status want) {
    rpcx_client_options *opts = rpcx_client_options_new();
    CHECK_OK(rpcx_client_options_set_connect_timeout_ms(opts, 10000));
    CHECK_OK(rpcx_client_options_set_timeout_ms(opts, 30000));
    CHECK_OK(rpcx_client_options_set_compress(opts, type, threshold));
    rpcx_client *c = NULL;
    rpcx_error *err = NULL;
    rpcx_status st = rpcx_client_connect(addr, opts, &c, &err);
    rpcx_client_options_free(opts);
    if (st != want) {
        fprintf(stderr, "connect with compress %u: %s: %s\n", type, rpcx_status_str((int)st), err_text(err));
        exit(1);
    }
    rpcx_error_free(err);
    return c;
}

static void echo(rpcx_client *c, const uint8_t *data, size_t len) {
    rpcx_buf reply = empty_buf();
    rpcx_error *err = NULL;
    CHECK_CALL(rpcx_client_call(c, "Echo", "Echo", data, len, NULL, 0, &reply, NULL, &err), &err);
    CHECK(reply.len == len && (len == 0 || memcmp(reply.data, data, len) == 0));
    rpcx_buf_free(&reply);
}

int main(void) {
    /* Argument checks. */
    CHECK_STATUS(rpcx_register_compressor(1, rle_compress, rle_decompress, NULL, NULL, NULL),
                 RPCX_ERR_INVALID_ARG);
    CHECK_STATUS(rpcx_register_compressor(8, rle_compress, rle_decompress, NULL, NULL, NULL),
                 RPCX_ERR_INVALID_ARG);
    rpcx_error *err = NULL;
    CHECK_STATUS(rpcx_register_compressor(5, NULL, rle_decompress, NULL, NULL, &err),
                 RPCX_ERR_NULL_ARG);
    CHECK(strstr(err_text(err), "compress") != NULL);
    rpcx_error_free(err);
    err = NULL;
    CHECK_STATUS(rpcx_unregister_compressor(0), RPCX_ERR_INVALID_ARG);
    CHECK_STATUS(rpcx_unregister_compressor(7), RPCX_ERR_NOT_FOUND);
    CHECK_STATUS(rpcx_compress_output_write(NULL, (const uint8_t *)"x", 1), RPCX_ERR_NULL_ARG);
    CHECK_STATUS(rpcx_compress_output_set_error(NULL, "x"), RPCX_ERR_NULL_ARG);
    CHECK_STATUS(rpcx_client_options_set_compress(NULL, 1, 0), RPCX_ERR_NULL_ARG);
    rpcx_client_options *bad = rpcx_client_options_new();
    CHECK_STATUS(rpcx_client_options_set_compress(bad, 8, 0), RPCX_ERR_INVALID_ARG);
    rpcx_client_options_free(bad);
    CHECK(rpcx_compressor_available(RPCX_COMPRESS_NONE));
    CHECK(rpcx_compressor_available(RPCX_COMPRESS_GZIP));
    CHECK(rpcx_compressor_available(RPCX_COMPRESS_SNAPPY)); /* librpcx is built with snappy */
    CHECK(!rpcx_compressor_available(5) && !rpcx_compressor_available(8));

    CHECK_OK(rpcx_register_compressor(5, rle_compress, rle_decompress, &finalized, count_finalizer, NULL));
    CHECK_OK(rpcx_register_compressor(6, rle_compress, refuse, &finalized, count_finalizer, NULL));
    CHECK(rpcx_compressor_available(5));

    /* A server whose decompressed-size limit is 64 KiB. */
    rpcx_server_options *sopts = rpcx_server_options_new();
    rpcx_limits limits;
    CHECK_OK(rpcx_limits_init(&limits, sizeof limits));
    limits.max_decompressed_len = 64u << 10;
    CHECK_OK(rpcx_server_options_set_limits(sopts, &limits));
    rpcx_server *server = NULL;
    CHECK_OK(rpcx_server_new(sopts, &server));
    rpcx_server_options_free(sopts);
    CHECK_OK(rpcx_server_register(server, "Echo", "Echo", on_echo, NULL, NULL));
    uint16_t port = 0;
    CHECK_CALL(rpcx_server_start(server, "tcp@127.0.0.1:0", &port, &err), &err);
    char addr[64];
    snprintf(addr, sizeof addr, "tcp@127.0.0.1:%u", (unsigned)port);

    /* 8 KiB of runs: the client compresses, the server decompresses and compresses its reply
     * with the same type, the client decompresses it. */
    size_t big_len = 8u << 10;
    uint8_t *big = malloc(64u << 10 | 1);
    CHECK(big != NULL);
    for (size_t i = 0; i < (64u << 10 | 1); i++) {
        big[i] = (uint8_t)('a' + i / 100 % 5);
    }
    rpcx_client *rle = connect_with(addr, 5, 1024, RPCX_OK);
    echo(rle, big, big_len);
    CHECK(atomic_load(&compress_calls) == 2 && atomic_load(&decompress_calls) == 2);
    /* Small calls are not compressed either way. */
    echo(rle, (const uint8_t *)"aaab", 4);
    CHECK(atomic_load(&compress_calls) == 2 && atomic_load(&decompress_calls) == 2);
    /* Exactly at the server's limit works; one byte over is refused as too large. */
    echo(rle, big, 64u << 10);
    rpcx_buf reply = empty_buf();
    CHECK_STATUS(rpcx_client_call(rle, "Echo", "Echo", big, (64u << 10) + 1, NULL, 0, &reply, NULL, &err),
                 RPCX_ERR_SERVER);
    CHECK(strstr(err_text(err), "decompressed size exceeds the maximum allowed size (65536 bytes)") != NULL);
    rpcx_error_free(err);
    err = NULL;
    echo(rle, big, 100); /* the connection still works */
    rpcx_client_free(rle);

    /* A zero threshold compresses every request; the decompress callback's failure text
     * comes back in the server's error reply. */
    rpcx_client *refusing = connect_with(addr, 6, 0, RPCX_OK);
    CHECK_STATUS(rpcx_client_call(refusing, "Echo", "Echo", (const uint8_t *)"hi", 2, NULL, 0, &reply, NULL, &err),
                 RPCX_ERR_SERVER);
    CHECK(strstr(err_text(err), "compressor 6 failed: refused by test") != NULL);
    rpcx_error_free(err);
    err = NULL;
    rpcx_client_free(refusing);

    /* snappy, the type Go's SnappyCompressor is registered at by Go peers. */
    rpcx_client *snappy = connect_with(addr, RPCX_COMPRESS_SNAPPY, 0, RPCX_OK);
    echo(snappy, big, 60u << 10);
    echo(snappy, (const uint8_t *)"x", 1);
    echo(snappy, NULL, 0);
    rpcx_client_free(snappy);

    /* Unregistered types are refused when connecting. */
    connect_with(addr, 7, 1024, RPCX_ERR_CONFIG);

    /* Unregistering drops the compressor: its finalizer runs once (no frame uses it now). */
    CHECK(atomic_load(&finalized) == 0);
    CHECK_OK(rpcx_unregister_compressor(5));
    CHECK(atomic_load(&finalized) == 1);
    CHECK(!rpcx_compressor_available(5));
    connect_with(addr, 5, 1024, RPCX_ERR_CONFIG);
    /* Replacing type 6 finalizes the previous registration. */
    CHECK_OK(rpcx_register_compressor(6, rle_compress, rle_decompress, &finalized, count_finalizer, NULL));
    CHECK(atomic_load(&finalized) == 2);
    CHECK_OK(rpcx_unregister_compressor(6));
    CHECK(atomic_load(&finalized) == 3);

    rpcx_server_free(server);
    free(big);
    puts("test_compress: ok");
    return 0;
}
