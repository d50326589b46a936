/* Go's reflection service served by a C server (rpcx_server_enable_reflection,
 * rpcx_server_describe_method), queried through the C client: Reflection.GetServices and
 * Reflection.GetService with raw bytes (the C client's default: the name's bytes in, the
 * text's bytes out) and JSON (coded strings, as Go's callers send), methods described and
 * not (raw []byte), a service registered while running, Go's error for an unknown service,
 * and refusals: NULL and empty arguments, describing before enabling, enabling after start. */
#define _POSIX_C_SOURCE 200809L
#include <stdint.h>

#include "testutil.h"

static void on_echo(void *userdata, const rpcx_request *req, rpcx_responder *resp) {
    (void)userdata;
    size_t len = 0;
    const uint8_t *p = rpcx_request_payload(req, &len);
    CHECK_OK(rpcx_responder_reply(resp, p, len, NULL));
}

/* Calls Reflection.method with `arg` (bytes as given); the reply or the error text is
 * copied into a malloc'd string returned through *out. */
static rpcx_status reflect(rpcx_client *c, const char *method, const char *arg, char **out) {
    rpcx_buf reply = empty_buf();
    rpcx_error *err = NULL;
    rpcx_status s = rpcx_client_call(c, "Reflection", method, (const uint8_t *)arg, strlen(arg),
                                     NULL, 30000, &reply, NULL, &err);
    const char *text = s == RPCX_OK ? (const char *)reply.data : err_text(err);
    size_t len = s == RPCX_OK ? reply.len : strlen(text);
    *out = malloc(len + 1);
    CHECK(*out != NULL);
    if (len > 0) {
        memcpy(*out, text, len);
    }
    (*out)[len] = 0;
    rpcx_buf_free(&reply);
    rpcx_error_free(err);
    return s;
}

#define CHECK_PREFIX(text, prefix) CHECK(strncmp((text), (prefix), strlen(prefix)) == 0)

#define CHECK_HAS(hay, needle)                                                           \
    do {                                                                                 \
        if (strstr((hay), (needle)) == NULL) {                                           \
            fprintf(stderr, "%s:%d: missing\n---\n%s\n--- in ---\n%s\n", __FILE__,       \
                    __LINE__, (needle), (hay));                                          \
            exit(1);                                                                     \
        }                                                                                \
    } while (0)

static const char *MUL =
    "type Args struct {\n\tA int64\n\tB int64\n}\n\n"
    "type Reply struct {\n\tC int64\n}\n\n"
    "type (s *Arith) Mul(ctx context.Context, arg *Args, reply *Reply) error {\n"
    "\treturn nil\n}\n";

static void refusals(void) {
    rpcx_server *s = NULL;
    CHECK_OK(rpcx_server_new(NULL, &s));
    CHECK_STATUS(rpcx_server_enable_reflection(NULL), RPCX_ERR_NULL_ARG);
    /* Not enabled yet. */
    CHECK_STATUS(rpcx_server_describe_method(s, "A", "B", "T", NULL, "T", NULL),
                 RPCX_ERR_INVALID_STATE);
    CHECK_OK(rpcx_server_enable_reflection(s));
    CHECK_OK(rpcx_server_enable_reflection(s)); /* twice is harmless */
    CHECK_STATUS(rpcx_server_describe_method(NULL, "A", "B", "T", NULL, "T", NULL),
                 RPCX_ERR_NULL_ARG);
    CHECK_STATUS(rpcx_server_describe_method(s, NULL, "B", "T", NULL, "T", NULL),
                 RPCX_ERR_NULL_ARG);
    CHECK_STATUS(rpcx_server_describe_method(s, "A", "B", NULL, NULL, "T", NULL),
                 RPCX_ERR_NULL_ARG);
    CHECK_STATUS(rpcx_server_describe_method(s, "A", "", "T", NULL, "T", NULL),
                 RPCX_ERR_INVALID_ARG);
    CHECK_STATUS(rpcx_server_describe_method(s, "A", "B", "T", NULL, "", NULL),
                 RPCX_ERR_INVALID_ARG);
    CHECK_STATUS(rpcx_server_describe_method(s, "A", "B", "\xff", NULL, "T", NULL),
                 RPCX_ERR_INVALID_ARG);
    CHECK_STATUS(rpcx_server_describe_method(s, "A", "B", "T", "\xfe", "T", NULL),
                 RPCX_ERR_INVALID_ARG);
    rpcx_error *err = NULL;
    CHECK_CALL(rpcx_server_start(s, "tcp@127.0.0.1:0", NULL, &err), &err);
    CHECK_STATUS(rpcx_server_enable_reflection(s), RPCX_ERR_INVALID_STATE);
    CHECK_OK(rpcx_server_shutdown(s, 1000));
    rpcx_server_free(s);
}

int main(void) {
    refusals();

    rpcx_server *server = NULL;
    CHECK_OK(rpcx_server_new(NULL, &server));
    CHECK_OK(rpcx_server_register(server, "Arith", "Mul", on_echo, NULL, NULL));
    CHECK_OK(rpcx_server_register(server, "Arith", "Echo", on_echo, NULL, NULL));
    CHECK_OK(rpcx_server_enable_reflection(server));
    CHECK_OK(rpcx_server_describe_method(server, "Arith", "Mul", "Args",
                                         "type Args struct {\n\tA int64\n\tB int64\n}", "Reply",
                                         "type Reply struct {\n\tC int64\n}\n"));
    rpcx_error *err = NULL;
    uint16_t port = 0;
    CHECK_CALL(rpcx_server_start(server, "tcp@127.0.0.1:0", &port, &err), &err);
    char addr[64];
    snprintf(addr, sizeof addr, "tcp@127.0.0.1:%u", (unsigned)port);

    /* Raw bytes: the C client's default. */
    rpcx_client *raw = NULL;
    CHECK_CALL(test_connect(addr, &raw, &err), &err);
    char *all = NULL;
    CHECK_OK(reflect(raw, "GetServices", "", &all));
    CHECK_PREFIX(all, "package rpcx\n\ntype Arith struct{}\n\n");
    CHECK_HAS(all, MUL);
    CHECK_HAS(all, "\n\n\n\ntype (s *Arith) Echo(ctx context.Context, arg *[]byte, reply *[]byte) "
                   "error {\n\treturn nil\n}\n");
    CHECK_HAS(all, "type (s *Reflection) GetService(ctx context.Context, arg *string, reply "
                   "*string) error {");
    CHECK(strstr(all, "type Arith struct{}") < strstr(all, "type Reflection struct{}"));
    free(all);

    char *one = NULL;
    CHECK_OK(reflect(raw, "GetService", "Arith", &one));
    CHECK_PREFIX(one, "package rpcx\n\ntype Arith struct{}\n\n");
    CHECK_HAS(one, MUL);
    CHECK(strstr(one, "Reflection") == NULL);
    free(one);
    CHECK_STATUS(reflect(raw, "GetService", "Nope", &one), RPCX_ERR_SERVER);
    CHECK_STR(one, "not found service Nope");
    free(one);

    /* Registered and described while running. */
    CHECK_OK(rpcx_server_register(server, "Late", "Put", on_echo, NULL, NULL));
    CHECK_OK(rpcx_server_describe_method(server, "Late", "Put", "string",
                                         "// Put stores a UTF-8 note.", "string", NULL));
    CHECK_OK(reflect(raw, "GetService", "Late", &one));
    CHECK_STR(one, "package rpcx\n\ntype Late struct{}\n\n\n"
                   "// Put stores a UTF-8 note.\n\n\n"
                   "type (s *Late) Put(ctx context.Context, arg *string, reply *string) error {\n"
                   "\treturn nil\n}\n\n");
    free(one);
    rpcx_client_close(raw);
    rpcx_client_free(raw);

    /* JSON: coded strings, as Go's clients send. */
    rpcx_client_options *opts = rpcx_client_options_new();
    CHECK(opts != NULL);
    CHECK_OK(rpcx_client_options_set_serialize_type(opts, RPCX_SERIALIZE_JSON));
    rpcx_client *json = NULL;
    CHECK_CALL(rpcx_client_connect(addr, opts, &json, &err), &err);
    rpcx_client_options_free(opts);
    CHECK_OK(reflect(json, "GetService", "\"Arith\"", &one));
    CHECK_PREFIX(one, "\"package rpcx\\n\\ntype Arith struct{}\\n\\n");
    CHECK_HAS(one, "type (s *Arith) Mul(ctx context.Context, arg *Args, reply *Reply) error {\\n");
    free(one);
    CHECK_STATUS(reflect(json, "GetService", "\"Nope\"", &one), RPCX_ERR_SERVER);
    CHECK_STR(one, "not found service Nope");
    free(one);
    rpcx_client_close(json);
    rpcx_client_free(json);

    CHECK_OK(rpcx_server_shutdown(server, 1000));
    rpcx_server_free(server);
    printf("test_reflection: ok\n");
    return 0;
}
