/* W3C trace context from C (rpcx_traceparent_*, rpcx_metadata_set_traceparent,
 * rpcx_request_traceparent): a C client starts a trace, sends its traceparent and tracestate
 * with a call, and the C server's handler reads exactly those; a nested call's child
 * traceparent keeps the trace; a call without one is RPCX_ERR_NOT_FOUND in the handler;
 * malformed values and small buffers are refused without writing. */
#include <stdint.h>

#include "testutil.h"

/* Trace.Seen replies "<traceparent>|<tracestate or (none)>", or the status name when the
 * handler could not read a traceparent. */
static void seen(void *userdata, const rpcx_request *req, rpcx_responder *resp) {
    (void)userdata;
    const char *tp = NULL, *ts = NULL;
    char text[700];
    rpcx_status s = rpcx_request_traceparent(req, &tp, &ts);
    if (s == RPCX_OK) {
        snprintf(text, sizeof text, "%s|%s", tp, ts ? ts : "(none)");
    } else {
        CHECK(tp == NULL && ts == NULL); /* written only on success */
        snprintf(text, sizeof text, "%s", rpcx_status_str((int)s));
    }
    CHECK_OK(rpcx_responder_reply(resp, (const uint8_t *)text, strlen(text), NULL));
}

/* Calls Trace.Seen with `md` (NULL for none); the reply text into `out`. */
static void call_seen(rpcx_client *c, const rpcx_metadata *md, char *out, size_t cap) {
    rpcx_buf reply = empty_buf();
    rpcx_error *err = NULL;
    CHECK_CALL(rpcx_client_call(c, "Trace", "Seen", NULL, 0, md, 10000, &reply, NULL, &err),
               &err);
    snprintf(out, cap, "%.*s", (int)reply.len, (const char *)reply.data);
    rpcx_buf_free(&reply);
}

static void test_round_trip(void) {
    rpcx_server *server = NULL;
    uint16_t port = 0;
    char addr[64], text[700], want[700];
    CHECK_OK(rpcx_server_new(NULL, &server));
    CHECK_OK(rpcx_server_register(server, "Trace", "Seen", seen, NULL, NULL));
    CHECK_OK(rpcx_server_start(server, "tcp@127.0.0.1:0", &port, NULL));
    snprintf(addr, sizeof addr, "tcp@127.0.0.1:%u", (unsigned)port);
    rpcx_client *client = NULL;
    CHECK_OK(rpcx_client_connect(addr, NULL, &client, NULL));

    /* A new trace, as a C app without a tracer starts one. */
    char tp[RPCX_TRACEPARENT_SIZE];
    CHECK_OK(rpcx_traceparent_new(true, tp, sizeof tp));
    CHECK(strlen(tp) == RPCX_TRACEPARENT_SIZE - 1);
    CHECK_OK(rpcx_traceparent_validate(tp));
    char trace_id[RPCX_TRACE_ID_SIZE], parent_id[RPCX_SPAN_ID_SIZE];
    uint8_t flags = 0;
    CHECK_OK(rpcx_traceparent_parse(tp, trace_id, parent_id, &flags));
    CHECK(flags == 1 && strncmp(tp + 3, trace_id, 32) == 0 && strncmp(tp + 36, parent_id, 16) == 0);

    rpcx_metadata *md = rpcx_metadata_new();
    CHECK_OK(rpcx_metadata_set_traceparent(md, tp, "vendor=c1"));
    const char *got = NULL, *state = NULL;
    CHECK_OK(rpcx_metadata_traceparent(md, &got, &state));
    CHECK_STR(got, tp);
    CHECK_STR(state, "vendor=c1");
    call_seen(client, md, text, sizeof text);
    snprintf(want, sizeof want, "%s|vendor=c1", tp);
    CHECK_STR(text, want);

    /* A nested call: same trace, a new parent span id; no tracestate this time. */
    char child[RPCX_TRACEPARENT_SIZE];
    CHECK_OK(rpcx_traceparent_child(tp, child, sizeof child));
    CHECK(strncmp(child, tp, 35) == 0 && strcmp(child, tp) != 0);
    rpcx_metadata *md2 = rpcx_metadata_new();
    CHECK_OK(rpcx_metadata_set_traceparent(md2, child, NULL));
    call_seen(client, md2, text, sizeof text);
    snprintf(want, sizeof want, "%s|(none)", child);
    CHECK_STR(text, want);

    /* No traceparent, or a malformed one set as plain metadata: the handler is told so. */
    call_seen(client, NULL, text, sizeof text);
    CHECK_STR(text, rpcx_status_str(RPCX_ERR_NOT_FOUND));
    rpcx_metadata *bad = rpcx_metadata_new();
    CHECK_OK(rpcx_metadata_set(bad, "traceparent", "00-not-a-trace"));
    call_seen(client, bad, text, sizeof text);
    CHECK_STR(text, rpcx_status_str(RPCX_ERR_INVALID_ARG));

    rpcx_metadata_free(bad);
    rpcx_metadata_free(md2);
    rpcx_metadata_free(md);
    rpcx_client_free(client);
    rpcx_server_free(server);
}

static void test_bad_input(void) {
    const char *good = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01";
    const char *bad[] = {
        "",
        "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7",
        "ff-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01",
        "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-05",
        "00-00000000000000000000000000000000-00f067aa0ba902b7-01",
        "00-4bf92f3577b34da6a3ce929d0e0e4736-0000000000000000-01",
        "00-4BF92F3577B34DA6A3CE929D0E0E4736-00f067aa0ba902b7-01",
        "\xff\xfe",
    };
    CHECK_OK(rpcx_traceparent_validate(good));
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        CHECK_STATUS(rpcx_traceparent_validate(bad[i]), RPCX_ERR_INVALID_ARG);
    }
    CHECK_STATUS(rpcx_traceparent_validate(NULL), RPCX_ERR_NULL_ARG);

    /* Too small a buffer: refused, nothing written. */
    char small[RPCX_TRACEPARENT_SIZE - 1];
    memset(small, 'x', sizeof small);
    CHECK_STATUS(rpcx_traceparent_new(false, small, sizeof small), RPCX_ERR_INVALID_ARG);
    CHECK(small[0] == 'x' && small[sizeof small - 1] == 'x');
    CHECK_STATUS(rpcx_traceparent_new(false, NULL, 64), RPCX_ERR_NULL_ARG);
    CHECK_STATUS(rpcx_traceparent_child("junk", small, sizeof small), RPCX_ERR_INVALID_ARG);
    CHECK_STATUS(rpcx_traceparent_parse("junk", NULL, NULL, NULL), RPCX_ERR_INVALID_ARG);

    /* A malformed value leaves the map unchanged. */
    rpcx_metadata *md = rpcx_metadata_new();
    CHECK_STATUS(rpcx_metadata_set_traceparent(md, "junk", NULL), RPCX_ERR_INVALID_ARG);
    CHECK_STATUS(rpcx_metadata_set_traceparent(md, good, "bad\tstate"), RPCX_ERR_INVALID_ARG);
    CHECK(rpcx_metadata_len(md) == 0);
    CHECK_STATUS(rpcx_metadata_set_traceparent(NULL, good, NULL), RPCX_ERR_NULL_ARG);
    CHECK_STATUS(rpcx_metadata_set_traceparent(md, NULL, NULL), RPCX_ERR_NULL_ARG);
    const char *tp = NULL;
    CHECK_STATUS(rpcx_metadata_traceparent(md, &tp, NULL), RPCX_ERR_NOT_FOUND);
    CHECK(tp == NULL);
    CHECK_STATUS(rpcx_metadata_traceparent(md, NULL, NULL), RPCX_ERR_NULL_ARG);
    CHECK_STATUS(rpcx_request_traceparent(NULL, &tp, NULL), RPCX_ERR_NULL_ARG);
    rpcx_metadata_free(md);
}

int main(void) {
    test_bad_input();
    test_round_trip();
    printf("test_trace: ok\n");
    return 0;
}
