/* Calls Arith.Mul and Arith.Div on any rpcx server (Rust, Go, C or Python) with JSON
 * arguments, the way a Go client does, and prints the replies and the service error.
 *
 *   arith_client tcp@127.0.0.1:8972
 *
 * Build: cc -std=c11 arith_client.c $(pkg-config --cflags --libs rpcx) -o arith_client */
#include <stdio.h>
#include <string.h>

#include <rpcx.h>

/* One call with a JSON argument; prints the reply or the server's error text. Returns 0 on a
 * reply, 1 on an error. */
static int call(const rpcx_client *client, const char *method, const char *json) {
    rpcx_buf reply = {NULL, 0, NULL};
    rpcx_error *err = NULL;
    rpcx_status st = rpcx_client_call(client, "Arith", method, (const uint8_t *)json,
                                      strlen(json), NULL, 2000, &reply, NULL, &err);
    if (st != RPCX_OK) {
        printf("Arith.%s(%s) -> error %s: %s\n", method, json, rpcx_status_str(st),
               rpcx_error_message(err, NULL));
        rpcx_error_free(err);
        return 1;
    }
    printf("Arith.%s(%s) -> %.*s\n", method, json, (int)reply.len, (const char *)reply.data);
    rpcx_buf_free(&reply);
    return 0;
}

int main(int argc, char **argv) {
    const char *addr = argc > 1 ? argv[1] : "tcp@127.0.0.1:8972";
    rpcx_client_options *opts = rpcx_client_options_new();
    rpcx_client *client = NULL;
    rpcx_error *err = NULL;

    /* Payloads are JSON text: tell the server so (serialize type 1). */
    rpcx_client_options_set_serialize_type(opts, RPCX_SERIALIZE_JSON);
    rpcx_status st = rpcx_client_connect(addr, opts, &client, &err);
    rpcx_client_options_free(opts);
    if (st != RPCX_OK) {
        fprintf(stderr, "connect %s: %s\n", addr, rpcx_error_message(err, NULL));
        rpcx_error_free(err);
        return 1;
    }
    int failures = call(client, "Mul", "{\"A\":7,\"B\":8}");
    failures += call(client, "Add", "{\"A\":7,\"B\":8}");
    /* Division by zero: the server's error text arrives intact. */
    int div_failed = call(client, "Div", "{\"A\":1,\"B\":0}");
    rpcx_client_free(client);
    return failures == 0 && div_failed == 1 ? 0 : 1;
}
