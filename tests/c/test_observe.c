/* Observability of a C server: the metrics plugin (Prometheus text per service and method)
 * and call observers (every completed call, with its duration and error text); NULL
 * arguments, state errors and the observer's finalizer running exactly once. */
#include <stdint.h>

#include "testutil.h"

static atomic_int calls_seen;
static atomic_int errors_seen;
static atomic_int finalized;
static char last_error[256];

static void on_call(void *userdata, const rpcx_request *req, rpcx_responder *resp) {
    (void)userdata;
    size_t len = 0;
    const uint8_t *data = rpcx_request_payload(req, &len);
    if (len == 4 && memcmp(data, "fail", 4) == 0) {
        CHECK_OK(rpcx_responder_error(resp, "told to fail", NULL, 0));
    } else {
        CHECK_OK(rpcx_responder_reply(resp, data, len, NULL));
    }
}

static void observe(void *userdata, const char *service, const char *method, const char *peer,
                    uint64_t duration_us, const char *error) {
    CHECK(userdata == (void *)&finalized);
    CHECK_STR(service, "Echo");
    CHECK(strcmp(method, "Echo") == 0 || strcmp(method, "Nope") == 0);
    CHECK(strncmp(peer, "tcp@127.0.0.1:", 14) == 0);
    CHECK(duration_us < 60u * 1000u * 1000u);
    if (error != NULL) {
        snprintf(last_error, sizeof last_error, "%s", error);
        atomic_fetch_add(&errors_seen, 1);
    }
    atomic_fetch_add(&calls_seen, 1);
}

static void count_finalizer(void *userdata) {
    CHECK(userdata == (void *)&finalized);
    atomic_fetch_add(&finalized, 1);
}

static int contains(const rpcx_buf *b, const char *needle) {
    size_t n = strlen(needle);
    for (size_t i = 0; i + n <= b->len; i++)
        if (memcmp(b->data + i, needle, n) == 0) return 1;
    return 0;
}

int main(void) {
    rpcx_server *server = NULL;
    rpcx_client *client = NULL;
    rpcx_buf text = {NULL, 0, NULL};
    uint16_t port = 0;
    char addr[64];

    /* NULL arguments. */
    CHECK_STATUS(rpcx_server_enable_metrics(NULL), RPCX_ERR_NULL_ARG);
    CHECK_STATUS(rpcx_server_metrics_text(NULL, &text), RPCX_ERR_NULL_ARG);
    CHECK_STATUS(rpcx_server_add_call_observer(NULL, observe, &finalized, count_finalizer),
                 RPCX_ERR_NULL_ARG);
    CHECK(atomic_load(&finalized) == 1); /* ownership passed even on failure */

    CHECK_OK(rpcx_server_new(NULL, &server));
    CHECK_STATUS(rpcx_server_metrics_text(server, NULL), RPCX_ERR_NULL_ARG);
    CHECK_STATUS(rpcx_server_metrics_text(server, &text), RPCX_ERR_INVALID_STATE);
    CHECK_STATUS(rpcx_server_add_call_observer(server, NULL, &finalized, count_finalizer),
                 RPCX_ERR_NULL_ARG);
    CHECK(atomic_load(&finalized) == 2);

    CHECK_OK(rpcx_server_enable_metrics(server));
    CHECK_OK(rpcx_server_enable_metrics(server)); /* idempotent */
    CHECK_OK(rpcx_server_add_call_observer(server, observe, &finalized, count_finalizer));
    CHECK_OK(rpcx_server_register(server, "Echo", "Echo", on_call, NULL, NULL));
    CHECK_OK(rpcx_server_start(server, "tcp@127.0.0.1:0", &port, NULL));
    CHECK_STATUS(rpcx_server_enable_metrics(server), RPCX_ERR_INVALID_STATE);
    CHECK_STATUS(rpcx_server_add_call_observer(server, observe, &finalized, count_finalizer),
                 RPCX_ERR_INVALID_STATE);
    CHECK(atomic_load(&finalized) == 3);

    snprintf(addr, sizeof addr, "tcp@127.0.0.1:%u", (unsigned)port);
    CHECK_OK(test_connect(addr, &client, NULL));
    for (int i = 0; i < 3; i++) {
        rpcx_buf reply = {NULL, 0, NULL};
        CHECK_OK(rpcx_client_call(client, "Echo", "Echo", (const uint8_t *)"hi", 2, NULL, 5000,
                                  &reply, NULL, NULL));
        rpcx_buf_free(&reply);
    }
    rpcx_error *err = NULL;
    CHECK_STATUS(rpcx_client_call(client, "Echo", "Echo", (const uint8_t *)"fail", 4, NULL, 5000,
                                  NULL, NULL, &err),
                 RPCX_ERR_SERVER);
    rpcx_error_free(err);

    /* The observer runs before the reply is written, so it has seen every call by now. */
    CHECK(atomic_load(&calls_seen) == 4);
    CHECK(atomic_load(&errors_seen) == 1);
    CHECK_STR(last_error, "told to fail");

    CHECK_OK(rpcx_server_metrics_text(server, &text));
    CHECK(contains(&text, "rpcx_server_calls_total{service=\"Echo\",method=\"Echo\"} 4"));
    CHECK(contains(&text, "rpcx_server_errors_total{service=\"Echo\",method=\"Echo\"} 1"));
    CHECK(contains(&text, "rpcx_server_call_duration_seconds_bucket{service=\"Echo\",method="
                          "\"Echo\",le=\"+Inf\"} 4"));
    rpcx_buf_free(&text);

    rpcx_client_free(client);
    CHECK_OK(rpcx_server_shutdown(server, 1000));
    CHECK(atomic_load(&finalized) == 3); /* the server still holds the observer */
    rpcx_server_free(server);
    CHECK(atomic_load(&finalized) == 4); /* exactly once, by free */
    printf("test_observe: ok\n");
    return 0;
}
