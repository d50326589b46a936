/* A minimal rpcx program in C: serve Greeter.Hello, call it, print the reply.
 * Build against an installed librpcx (see CMakeLists.txt, or with pkg-config:
 *   cc -std=c11 hello.c $(pkg-config --cflags --libs rpcx) -o hello). */
#include <stdio.h>
#include <string.h>

#include <rpcx.h>

/* Runs on an rpcx runtime thread: reply at once (or hand the responder to another thread). */
static void hello(void *userdata, const rpcx_request *req, rpcx_responder *resp) {
    (void)userdata;
    size_t len = 0;
    const uint8_t *name = rpcx_request_payload(req, &len);
    char out[128];
    int n = snprintf(out, sizeof out, "hello, %.*s", (int)len, name ? (const char *)name : "");
    rpcx_responder_reply(resp, (const uint8_t *)out, (size_t)n, NULL);
}

int main(void) {
    rpcx_server *server = NULL;
    rpcx_client *client = NULL;
    rpcx_error *err = NULL;
    uint16_t port = 0;
    char addr[64];
    int ok = 0;

    if (rpcx_server_new(NULL, &server) != RPCX_OK ||
        rpcx_server_register(server, "Greeter", "Hello", hello, NULL, NULL) != RPCX_OK ||
        rpcx_server_start(server, "tcp@127.0.0.1:0", &port, &err) != RPCX_OK) {
        fprintf(stderr, "server: %s\n", err ? rpcx_error_message(err, NULL) : "failed");
        goto done;
    }
    snprintf(addr, sizeof addr, "tcp@127.0.0.1:%u", (unsigned)port);
    if (rpcx_client_connect(addr, NULL, &client, &err) != RPCX_OK) {
        fprintf(stderr, "connect: %s\n", rpcx_error_message(err, NULL));
        goto done;
    }
    rpcx_buf reply = {NULL, 0, NULL};
    if (rpcx_client_call(client, "Greeter", "Hello", (const uint8_t *)"C", 1, NULL, 1000, &reply,
                         NULL, &err) != RPCX_OK) {
        fprintf(stderr, "call: %s\n", rpcx_error_message(err, NULL));
        goto done;
    }
    printf("%.*s (librpcx %s)\n", (int)reply.len, (const char *)reply.data, rpcx_version());
    ok = reply.len == 8 && memcmp(reply.data, "hello, C", 8) == 0;
    rpcx_buf_free(&reply);

done:
    rpcx_error_free(err);
    rpcx_client_free(client);
    rpcx_server_free(server);
    return ok ? 0 : 1;
}
