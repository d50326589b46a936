/* The ABI rules of rpcx.h: the version macros equal the library's run-time version, an
 * extensible struct (rpcx_limits) is refused unless its struct_size is right and gets its
 * defaults from rpcx_limits_init, a struct from a "newer header" (larger, its unknown fields
 * zero) is accepted and refused once such a field is set, and an all-zero rpcx_buf is a valid
 * empty buffer. */
#include <stdint.h>

#include "testutil.h"

static void test_version(void) {
    CHECK(rpcx_version_number() == RPCX_VERSION_NUMBER);
    CHECK(RPCX_VERSION_NUMBER ==
          RPCX_VERSION_MAJOR * 10000 + RPCX_VERSION_MINOR * 100 + RPCX_VERSION_PATCH);
    CHECK_STR(rpcx_version(), RPCX_VERSION);
    unsigned major = 0, minor = 0, patch = 0;
    CHECK(sscanf(rpcx_version(), "%u.%u.%u", &major, &minor, &patch) == 3);
    CHECK(major == RPCX_VERSION_MAJOR && minor == RPCX_VERSION_MINOR &&
          patch == RPCX_VERSION_PATCH);
}

static void test_status_width(void) {
    CHECK(sizeof(rpcx_status) == 4);
    /* The last code round-trips through the 32-bit type. */
    rpcx_status s = RPCX_ERR_REFUSED;
    CHECK((int)s == 20);
}

static void check_defaults(const rpcx_limits *l, size_t struct_size) {
    CHECK(l->struct_size == struct_size);
    CHECK(l->max_frame_len == 16u << 20);
    CHECK(l->max_decompressed_len == (size_t)16 << 20);
    CHECK(l->max_metadata_entries == 256);
    CHECK(l->max_metadata_bytes == (size_t)256 << 10);
}

/* A program compiled against a newer header whose rpcx_limits has one more field. */
struct newer_limits {
    rpcx_limits known;
    uint64_t future_field;
};

static void test_limits(void) {
    rpcx_limits l;
    memset(&l, 0xab, sizeof l);
    CHECK_OK(rpcx_limits_init(&l, sizeof l));
    check_defaults(&l, sizeof l);

    /* A bad size writes nothing. */
    rpcx_limits untouched;
    memset(&untouched, 0xab, sizeof untouched);
    rpcx_limits copy = untouched;
    CHECK_STATUS(rpcx_limits_init(&untouched, 0), RPCX_ERR_INVALID_ARG);
    CHECK_STATUS(rpcx_limits_init(&untouched, sizeof untouched - 1), RPCX_ERR_INVALID_ARG);
    CHECK_STATUS(rpcx_limits_init(&untouched, (size_t)1 << 20), RPCX_ERR_INVALID_ARG);
    CHECK(memcmp(&untouched, &copy, sizeof copy) == 0);
    CHECK_STATUS(rpcx_limits_init(NULL, sizeof l), RPCX_ERR_NULL_ARG);

    rpcx_server_options *so = rpcx_server_options_new();
    rpcx_client_options *co = rpcx_client_options_new();
    CHECK(so != NULL && co != NULL);
    CHECK_OK(rpcx_server_options_set_limits(so, &l));
    CHECK_OK(rpcx_client_options_set_limits(co, &l));

    /* Not initialised with rpcx_limits_init: struct_size 0. */
    rpcx_limits zero = {0};
    zero.max_frame_len = 1024;
    zero.max_decompressed_len = 1024;
    zero.max_metadata_entries = 8;
    zero.max_metadata_bytes = 1024;
    CHECK_STATUS(rpcx_server_options_set_limits(so, &zero), RPCX_ERR_INVALID_ARG);
    CHECK_STATUS(rpcx_client_options_set_limits(co, &zero), RPCX_ERR_INVALID_ARG);
    /* Too small, and absurd. */
    rpcx_limits bad = l;
    bad.struct_size = sizeof bad - sizeof(size_t);
    CHECK_STATUS(rpcx_server_options_set_limits(so, &bad), RPCX_ERR_INVALID_ARG);
    bad.struct_size = (size_t)-1;
    CHECK_STATUS(rpcx_client_options_set_limits(co, &bad), RPCX_ERR_INVALID_ARG);

    /* A newer header's struct: unknown fields are zeroed by init and accepted while zero. */
    struct newer_limits newer;
    memset(&newer, 0xcd, sizeof newer);
    CHECK_OK(rpcx_limits_init(&newer.known, sizeof newer));
    check_defaults(&newer.known, sizeof newer);
    CHECK(newer.future_field == 0);
    newer.known.max_frame_len = 4096;
    CHECK_OK(rpcx_server_options_set_limits(so, &newer.known));
    newer.future_field = 7;
    CHECK_STATUS(rpcx_server_options_set_limits(so, &newer.known), RPCX_ERR_INVALID_ARG);
    CHECK_STATUS(rpcx_client_options_set_limits(co, &newer.known), RPCX_ERR_INVALID_ARG);

    /* Every limit must be at least 1. */
    l.max_metadata_entries = 0;
    CHECK_STATUS(rpcx_server_options_set_limits(so, &l), RPCX_ERR_INVALID_ARG);
    rpcx_server_options_free(so);
    rpcx_client_options_free(co);
}

/* The limits set through an initialised struct apply: a reply over the client's frame limit
 * breaks its connection. */
static void on_big(void *userdata, const rpcx_request *req, rpcx_responder *resp) {
    (void)userdata;
    (void)req;
    static uint8_t big[8192];
    CHECK_OK(rpcx_responder_reply(resp, big, sizeof big, NULL));
}

static void test_limits_apply(void) {
    rpcx_server *server = NULL;
    CHECK_OK(rpcx_server_new(NULL, &server));
    CHECK_OK(rpcx_server_register(server, "S", "Big", on_big, NULL, NULL));
    uint16_t port = 0;
    CHECK_OK(rpcx_server_start(server, "tcp@127.0.0.1:0", &port, NULL));
    char addr[64];
    snprintf(addr, sizeof addr, "tcp@127.0.0.1:%u", (unsigned)port);
    rpcx_limits l;
    CHECK_OK(rpcx_limits_init(&l, sizeof l));
    l.max_frame_len = 1024;
    rpcx_client_options *co = rpcx_client_options_new();
    CHECK_OK(rpcx_client_options_set_limits(co, &l));
    CHECK_OK(rpcx_client_options_set_connect_timeout_ms(co, 10000));
    rpcx_client *client = NULL;
    CHECK_OK(rpcx_client_connect(addr, co, &client, NULL));
    rpcx_client_options_free(co);
    rpcx_buf reply = {0}; /* all zero: freeable whatever the call does */
    rpcx_error *err = NULL;
    CHECK_STATUS(rpcx_client_call(client, "S", "Big", NULL, 0, NULL, 30000, &reply, NULL, &err),
                 RPCX_ERR_CONNECTION);
    rpcx_buf_free(&reply);
    rpcx_error_free(err);
    rpcx_client_free(client);
    rpcx_server_free(server);
}

int main(void) {
    test_version();
    test_status_width();
    test_limits();
    test_limits_apply();
    printf("test_abi: ok\n");
    return 0;
}
