/* Interop: a C client calling the Rust Arith example server (a separate process):
 * JSON, MsgPack and Protobuf arguments encoded by hand, a service error with its reply payload,
 * metadata echoed back, raw Echo, and auth. The server binary comes from RPCX_ARITH_SERVER
 * (set by the build); without it the test is skipped (exit 77). */
#define _POSIX_C_SOURCE 200809L
#include <signal.h>
#include <spawn.h>
#include <stdint.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <unistd.h>

#include "testutil.h"

extern char **environ;

static pid_t server_pid;

static void stop_server(void) {
    if (server_pid > 0) {
        kill(server_pid, SIGTERM);
        int status = 0;
        waitpid(server_pid, &status, 0);
        server_pid = 0;
    }
}

/* Starts arith_server on a free port; returns its address ("tcp@127.0.0.1:<port>"). */
static void start_server(const char *binary, char *addr, size_t cap) {
    int fds[2];
    CHECK(pipe(fds) == 0);
    posix_spawn_file_actions_t fa;
    CHECK(posix_spawn_file_actions_init(&fa) == 0);
    CHECK(posix_spawn_file_actions_adddup2(&fa, fds[1], STDOUT_FILENO) == 0);
    CHECK(posix_spawn_file_actions_addclose(&fa, fds[0]) == 0);
    char *argv[] = {(char *)binary, "--addr", "tcp@127.0.0.1:0", "--auth", "tok", NULL};
    CHECK(posix_spawn(&server_pid, binary, &fa, NULL, argv, environ) == 0);
    posix_spawn_file_actions_destroy(&fa);
    close(fds[1]);
    FILE *out = fdopen(fds[0], "r");
    CHECK(out != NULL);
    char line[256];
    CHECK(fgets(line, sizeof line, out) != NULL);
    fclose(out);
    line[strcspn(line, "\r\n")] = 0;
    CHECK(strncmp(line, "LISTENING ", 10) == 0);
    snprintf(addr, cap, "%s", line + 10);
}

static rpcx_client *connect_with(const char *addr, uint8_t st, const char *token) {
    rpcx_client_options *opts = rpcx_client_options_new();
    CHECK_OK(rpcx_client_options_set_serialize_type(opts, st));
    CHECK_OK(rpcx_client_options_set_timeout_ms(opts, 30000));
    CHECK_OK(rpcx_client_options_set_connect_timeout_ms(opts, 10000));
    CHECK_OK(rpcx_client_options_set_auth_token(opts, token));
    rpcx_client *client = NULL;
    rpcx_error *err = NULL;
    CHECK_CALL(rpcx_client_connect(addr, opts, &client, &err), &err);
    rpcx_client_options_free(opts);
    return client;
}

static void expect_service_reply(rpcx_client *c, const char *service, const char *method,
                                 const void *args, size_t len, const void *want, size_t want_len) {
    rpcx_buf reply = empty_buf();
    rpcx_error *err = NULL;
    CHECK_CALL(rpcx_client_call(c, service, method, args, len, NULL, 0, &reply, NULL, &err), &err);
    if (reply.len != want_len || memcmp(reply.data, want, want_len) != 0) {
        fprintf(stderr, "%s.%s: unexpected reply of %zu bytes: %.*s\n", service, method,
                reply.len, (int)reply.len, (const char *)reply.data);
        exit(1);
    }
    rpcx_buf_free(&reply);
}

static void expect_reply(rpcx_client *c, const char *method, const void *args, size_t len,
                         const void *want, size_t want_len) {
    expect_service_reply(c, "Arith", method, args, len, want, want_len);
}

int main(void) {
    const char *binary = getenv("RPCX_ARITH_SERVER");
    if (binary == NULL || *binary == 0 || access(binary, X_OK) != 0) {
        printf("SKIP: the Rust arith_server example is not built (RPCX_ARITH_SERVER=%s)\n",
               binary ? binary : "");
        return 77;
    }
    char addr[128];
    start_server(binary, addr, sizeof addr);
    atexit(stop_server);

    /* JSON. */
    rpcx_client *json = connect_with(addr, RPCX_SERIALIZE_JSON, "tok");
    static const char mul[] = "{\"A\":7,\"B\":8}";
    expect_reply(json, "Mul", mul, sizeof mul - 1, "{\"C\":56}", 8);
    static const char add[] = "{\"A\":-5,\"B\":3}";
    expect_reply(json, "Add", add, sizeof add - 1, "{\"C\":-2}", 8);

    /* Div by zero: the service's error text intact, with the zero reply Go sends along. */
    static const char div0[] = "{\"A\":1,\"B\":0}";
    rpcx_error *err = NULL;
    CHECK_STATUS(rpcx_client_call(json, "Arith", "Div", (const uint8_t *)div0, sizeof div0 - 1,
                                  NULL, 0, NULL, NULL, &err),
                 RPCX_ERR_SERVER);
    CHECK_STR(rpcx_error_message(err, NULL), "divide by zero");
    size_t len = 0;
    const uint8_t *p = rpcx_error_payload(err, &len);
    CHECK(len == 7 && memcmp(p, "{\"C\":0}", 7) == 0);
    CHECK_STR(meta_get(rpcx_error_metadata(err), "__rpcx_error__"), "divide by zero");
    rpcx_error_free(err);

    /* Metadata both ways: Meta echoes each request pair as echo-<key>. */
    rpcx_metadata *md = rpcx_metadata_new();
    CHECK_OK(rpcx_metadata_set(md, "from", "c"));
    rpcx_metadata *reply_meta = NULL;
    rpcx_buf reply = empty_buf();
    CHECK_OK(rpcx_client_call(json, "Arith", "Meta", (const uint8_t *)mul, sizeof mul - 1, md, 0,
                              &reply, &reply_meta, NULL));
    CHECK_STR(meta_get(reply_meta, "echo-from"), "c");
    rpcx_buf_free(&reply);
    rpcx_metadata_free(reply_meta);
    rpcx_metadata_free(md);

    /* Unknown method: the server's own error text. */
    err = NULL;
    CHECK_STATUS(rpcx_client_call(json, "Arith", "Pow", NULL, 0, NULL, 0, NULL, NULL, &err),
                 RPCX_ERR_SERVER);
    CHECK_STR(rpcx_error_message(err, NULL), "rpcx: can't find method Pow");
    rpcx_error_free(err);
    rpcx_client_free(json);

    /* MsgPack: {"A":6,"B":7} as a two-entry map; the reply is {"C":42}. */
    rpcx_client *mp = connect_with(addr, RPCX_SERIALIZE_MSGPACK, "tok");
    static const uint8_t mp_args[] = {0x82, 0xa1, 'A', 0x06, 0xa1, 'B', 0x07};
    static const uint8_t mp_want[] = {0x81, 0xa1, 'C', 0x2a};
    expect_reply(mp, "Mul", mp_args, sizeof mp_args, mp_want, sizeof mp_want);
    rpcx_client_free(mp);

    /* Protobuf: ProtoArith.Mul with ProtoArgs{A: 6, B: 7} (field 1 and 2 as varints); the
     * reply is ProtoReply{C: 42}. */
    rpcx_client *pb = connect_with(addr, RPCX_SERIALIZE_PROTOBUF, "tok");
    static const uint8_t pb_args[] = {0x08, 0x06, 0x10, 0x07};
    static const uint8_t pb_want[] = {0x08, 0x2a};
    expect_service_reply(pb, "ProtoArith", "Mul", pb_args, sizeof pb_args, pb_want, sizeof pb_want);
    rpcx_client_free(pb);

    /* Raw bytes through Echo. */
    rpcx_client *raw = connect_with(addr, RPCX_SERIALIZE_RAW, "tok");
    static const uint8_t bin[] = {0, 1, 2, 0xff, 0xfe, 0};
    expect_reply(raw, "Echo", bin, sizeof bin, bin, sizeof bin);
    rpcx_client_free(raw);

    /* A wrong token is refused with the server's message. */
    rpcx_client *bad = connect_with(addr, RPCX_SERIALIZE_JSON, "nope");
    err = NULL;
    CHECK_STATUS(rpcx_client_call(bad, "Arith", "Mul", (const uint8_t *)mul, sizeof mul - 1, NULL, 0,
                                  NULL, NULL, &err),
                 RPCX_ERR_SERVER);
    CHECK_STR(rpcx_error_message(err, NULL), "invalid token");
    rpcx_error_free(err);
    rpcx_client_free(bad);

    stop_server();
    printf("test_interop_arith: ok (%s)\n", addr);
    return 0;
}
