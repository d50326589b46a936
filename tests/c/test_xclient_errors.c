/* Error paths and NULL arguments of every discovery, XClient and registry function: each
 * returns a status (never crashes), writes no out-parameter on failure, and every finalizer
 * handed over runs exactly once, also when the function fails. */
#define _POSIX_C_SOURCE 200809L
#include "xclient_util.h"

static atomic_int finalized;

static void fin(void *ud) {
    CHECK(ud == &finalized);
    atomic_fetch_add(&finalized, 1);
}

static int64_t pick0(void *ud, const char *service, const char *method, const uint8_t *args,
                     size_t args_len, const rpcx_server_entry *servers, size_t n) {
    (void)ud;
    (void)service;
    (void)method;
    (void)args;
    (void)args_len;
    (void)servers;
    (void)n;
    return 0;
}

static void never(void *ud, uint64_t id, rpcx_status status, const uint8_t *reply,
                  size_t reply_len, const rpcx_metadata *meta, const rpcx_error *error) {
    (void)ud;
    (void)id;
    (void)status;
    (void)reply;
    (void)reply_len;
    (void)meta;
    (void)error;
    fprintf(stderr, "callback of a call that failed to start\n");
    exit(1);
}

/* The error returned through err_out has the status returned. */
static void expect_err(rpcx_status got, rpcx_status want, rpcx_error **errp) {
    rpcx_error *err = *errp; /* read after the call (argument order is unspecified) */
    *errp = NULL;
    if (got != want) {
        fprintf(stderr, "got %s, expected %s: %s\n", rpcx_status_str((int)got),
                rpcx_status_str((int)want), err_text(err));
        exit(1);
    }
    CHECK(err != NULL);
    CHECK(rpcx_error_code(err) == want);
    rpcx_error_free(err);
}

static void discovery_errors(void) {
    rpcx_discovery *d = (rpcx_discovery *)0x1; /* must stay untouched on failure */
    CHECK(rpcx_discovery_new_peer(NULL, NULL, &d) == RPCX_ERR_NULL_ARG);
    CHECK(rpcx_discovery_new_peer("tcp@127.0.0.1:1", NULL, NULL) == RPCX_ERR_NULL_ARG);
    CHECK(rpcx_discovery_new_peer("", NULL, &d) == RPCX_ERR_INVALID_ARG);
    CHECK(rpcx_discovery_new_peer("\xff", NULL, &d) == RPCX_ERR_INVALID_ARG);
    CHECK(rpcx_discovery_new_peer("tcp@127.0.0.1:1", "\xfe", &d) == RPCX_ERR_INVALID_ARG);
    CHECK(d == (rpcx_discovery *)0x1);

    rpcx_server_entry e[2] = {{"tcp@127.0.0.1:1", NULL}, {NULL, ""}};
    CHECK(rpcx_discovery_new_multiple(NULL, 1, &d) == RPCX_ERR_NULL_ARG);
    CHECK(rpcx_discovery_new_multiple(e, 2, &d) == RPCX_ERR_NULL_ARG);
    e[1].address = "";
    CHECK(rpcx_discovery_new_multiple(e, 2, &d) == RPCX_ERR_INVALID_ARG);
    CHECK(rpcx_discovery_new_multiple(e, 1, NULL) == RPCX_ERR_NULL_ARG);
    CHECK(d == (rpcx_discovery *)0x1);
    CHECK_OK(rpcx_discovery_new_multiple(NULL, 0, &d));
    CHECK(rpcx_discovery_len(d) == 0);
    CHECK(rpcx_discovery_update(NULL, e, 1) == RPCX_ERR_NULL_ARG);
    CHECK(rpcx_discovery_update(d, NULL, 1) == RPCX_ERR_NULL_ARG);
    CHECK(rpcx_discovery_update(d, e, 2) == RPCX_ERR_INVALID_ARG);
    CHECK(rpcx_discovery_len(d) == 0); /* unchanged */
    CHECK_OK(rpcx_discovery_update(d, e, 1));
    CHECK(rpcx_discovery_len(d) == 1);
    CHECK(rpcx_discovery_len(NULL) == 0);
    rpcx_discovery_free(d);
    rpcx_discovery_free(NULL);

    /* etcd / consul argument checks (no network involved). */
    const char *eps[2] = {"http://127.0.0.1:1", NULL};
    rpcx_error *err = NULL;
    d = (rpcx_discovery *)0x1;
    expect_err(rpcx_discovery_new_etcd(NULL, 1, "/b", "T", &d, &err), RPCX_ERR_NULL_ARG, &err);
    err = NULL;
    expect_err(rpcx_discovery_new_etcd(eps, 0, "/b", "T", &d, &err), RPCX_ERR_INVALID_ARG, &err);
    err = NULL;
    expect_err(rpcx_discovery_new_etcd(eps, 2, "/b", "T", &d, &err), RPCX_ERR_NULL_ARG, &err);
    err = NULL;
    expect_err(rpcx_discovery_new_etcd(eps, 1, NULL, "T", &d, &err), RPCX_ERR_NULL_ARG, &err);
    err = NULL;
    expect_err(rpcx_discovery_new_etcd(eps, 1, "/b", "", &d, &err), RPCX_ERR_INVALID_ARG, &err);
    err = NULL;
    expect_err(rpcx_discovery_new_etcd(eps, 1, "/b", "T", NULL, &err), RPCX_ERR_NULL_ARG, &err);
    CHECK(rpcx_discovery_new_etcd(eps, 1, "/b", NULL, &d, NULL) == RPCX_ERR_NULL_ARG);
    err = NULL;
    expect_err(rpcx_discovery_new_consul(NULL, "/b", "T", &d, &err), RPCX_ERR_NULL_ARG, &err);
    err = NULL;
    expect_err(rpcx_discovery_new_consul("", "/b", "T", &d, &err), RPCX_ERR_INVALID_ARG, &err);
    err = NULL;
    expect_err(rpcx_discovery_new_consul("127.0.0.1:1", "/b", "T", NULL, &err),
               RPCX_ERR_NULL_ARG, &err);
    /* A Consul agent that is not there. */
    err = NULL;
    rpcx_status s = rpcx_discovery_new_consul("127.0.0.1:1", "/b", "T", &d, &err);
    CHECK(s != RPCX_OK);
    expect_err(s, s, &err);
    CHECK(d == (rpcx_discovery *)0x1);
}

static void options_errors(void) {
    CHECK(rpcx_xclient_options_set_select_mode(NULL, 0) == RPCX_ERR_NULL_ARG);
    CHECK(rpcx_xclient_options_set_fail_mode(NULL, 0) == RPCX_ERR_NULL_ARG);
    CHECK(rpcx_xclient_options_set_retries(NULL, 1) == RPCX_ERR_NULL_ARG);
    CHECK(rpcx_xclient_options_set_backup_latency_ms(NULL, 1) == RPCX_ERR_NULL_ARG);
    CHECK(rpcx_xclient_options_set_group(NULL, "g") == RPCX_ERR_NULL_ARG);
    CHECK(rpcx_xclient_options_set_client_options(NULL, NULL) == RPCX_ERR_NULL_ARG);
    CHECK(rpcx_xclient_options_set_serialize_type(NULL, 0) == RPCX_ERR_NULL_ARG);
    CHECK(rpcx_xclient_options_set_timeout_ms(NULL, 0) == RPCX_ERR_NULL_ARG);
    CHECK(rpcx_xclient_options_set_location(NULL, 0, 0) == RPCX_ERR_NULL_ARG);

    rpcx_xclient_options *o = rpcx_xclient_options_new();
    CHECK(o != NULL);
    CHECK(rpcx_xclient_options_set_select_mode(o, -1) == RPCX_ERR_INVALID_ARG);
    CHECK(rpcx_xclient_options_set_select_mode(o, 7) == RPCX_ERR_INVALID_ARG);
    for (int m = RPCX_SELECT_RANDOM; m <= RPCX_SELECT_HEARTBEAT_RTT; m++) {
        CHECK_OK(rpcx_xclient_options_set_select_mode(o, m));
    }
    CHECK(rpcx_xclient_options_set_fail_mode(o, 4) == RPCX_ERR_INVALID_ARG);
    CHECK(rpcx_xclient_options_set_fail_mode(o, -1) == RPCX_ERR_INVALID_ARG);
    for (int m = RPCX_FAIL_FAILOVER; m <= RPCX_FAIL_FAILBACKUP; m++) {
        CHECK_OK(rpcx_xclient_options_set_fail_mode(o, m));
    }
    CHECK(rpcx_xclient_options_set_serialize_type(o, 16) == RPCX_ERR_INVALID_ARG);
    CHECK_OK(rpcx_xclient_options_set_serialize_type(o, RPCX_SERIALIZE_JSON));
    CHECK(rpcx_xclient_options_set_location(o, 91, 0) == RPCX_ERR_INVALID_ARG);
    CHECK(rpcx_xclient_options_set_location(o, 0, -181) == RPCX_ERR_INVALID_ARG);
    CHECK_OK(rpcx_xclient_options_set_location(o, -33.9, 151.2));
    CHECK(rpcx_xclient_options_set_group(o, "\xff") == RPCX_ERR_INVALID_ARG);
    CHECK_OK(rpcx_xclient_options_set_group(o, NULL));
    CHECK_OK(rpcx_xclient_options_set_group(o, "blue"));
    CHECK(rpcx_xclient_options_set_client_options(o, NULL) == RPCX_ERR_NULL_ARG);
    CHECK_OK(rpcx_xclient_options_set_retries(o, 0));
    CHECK_OK(rpcx_xclient_options_set_timeout_ms(o, 1500));
    CHECK_OK(rpcx_xclient_options_set_backup_latency_ms(o, 5));

    /* The finalizer runs exactly once in every case, failures included. */
    CHECK(rpcx_xclient_options_set_selector(NULL, pick0, &finalized, fin) == RPCX_ERR_NULL_ARG);
    CHECK(atomic_load(&finalized) == 1);
    CHECK(rpcx_xclient_options_set_selector(o, NULL, &finalized, fin) == RPCX_ERR_NULL_ARG);
    CHECK(atomic_load(&finalized) == 2);
    CHECK_OK(rpcx_xclient_options_set_selector(o, pick0, &finalized, NULL));
    CHECK_OK(rpcx_xclient_options_set_selector(o, pick0, &finalized, fin));
    CHECK(atomic_load(&finalized) == 2);
    rpcx_xclient_options_free(o);
    CHECK(atomic_load(&finalized) == 3);
    rpcx_xclient_options_free(NULL);
}

static void xclient_errors(void) {
    rpcx_discovery *d = NULL;
    CHECK_OK(rpcx_discovery_new_peer("tcp@127.0.0.1:1", NULL, &d));
    rpcx_xclient *xc = (rpcx_xclient *)0x1;
    rpcx_error *err = NULL;
    expect_err(rpcx_xclient_new(NULL, d, NULL, &xc, &err), RPCX_ERR_NULL_ARG, &err);
    err = NULL;
    expect_err(rpcx_xclient_new("", d, NULL, &xc, &err), RPCX_ERR_INVALID_ARG, &err);
    err = NULL;
    expect_err(rpcx_xclient_new("T", NULL, NULL, &xc, &err), RPCX_ERR_NULL_ARG, &err);
    CHECK(rpcx_xclient_new("T", d, NULL, NULL, NULL) == RPCX_ERR_NULL_ARG);
    CHECK(xc == (rpcx_xclient *)0x1);
    CHECK_OK(rpcx_xclient_new("T", d, NULL, &xc, NULL));
    rpcx_discovery_free(d);

    rpcx_buf reply = empty_buf();
    rpcx_metadata *rm = NULL;
    /* NULL xclient / method, bad payload pointer, non-UTF-8 method. */
    typedef rpcx_status (*blocking_fn)(const rpcx_xclient *, const char *, const uint8_t *, size_t,
                                       const rpcx_metadata *, uint64_t, rpcx_buf *,
                                       rpcx_metadata **, rpcx_error **);
    blocking_fn fns[3] = {rpcx_xclient_call, rpcx_xclient_broadcast, rpcx_xclient_fork};
    for (int i = 0; i < 3; i++) {
        err = NULL;
        expect_err(fns[i](NULL, "Who", NULL, 0, NULL, 0, &reply, &rm, &err), RPCX_ERR_NULL_ARG, &err);
        err = NULL;
        expect_err(fns[i](xc, NULL, NULL, 0, NULL, 0, &reply, &rm, &err), RPCX_ERR_NULL_ARG, &err);
        err = NULL;
        expect_err(fns[i](xc, "Who", NULL, 3, NULL, 0, &reply, &rm, &err), RPCX_ERR_NULL_ARG, &err);
        err = NULL;
        expect_err(fns[i](xc, "\xff", NULL, 0, NULL, 0, &reply, &rm, &err), RPCX_ERR_INVALID_ARG, &err);
        /* The only server is not listening. */
        err = NULL;
        expect_err(fns[i](xc, "Who", NULL, 0, NULL, 2000, &reply, &rm, &err),
                   RPCX_ERR_CONNECTION, &err);
        CHECK(fns[i](xc, "Who", NULL, 0, NULL, 0, NULL, NULL, NULL) == RPCX_ERR_CONNECTION);
        CHECK(reply.data == NULL && reply.len == 0 && rm == NULL);
    }
    typedef rpcx_status (*async_fn)(const rpcx_xclient *, const char *, const uint8_t *, size_t,
                                    const rpcx_metadata *, uint64_t, rpcx_call_callback, void *,
                                    uint64_t *);
    async_fn afns[3] = {rpcx_xclient_call_async, rpcx_xclient_broadcast_async,
                        rpcx_xclient_fork_async};
    for (int i = 0; i < 3; i++) {
        uint64_t id = 77;
        CHECK(afns[i](NULL, "Who", NULL, 0, NULL, 0, never, NULL, &id) == RPCX_ERR_NULL_ARG);
        CHECK(afns[i](xc, NULL, NULL, 0, NULL, 0, never, NULL, &id) == RPCX_ERR_NULL_ARG);
        CHECK(afns[i](xc, "Who", NULL, 1, NULL, 0, never, NULL, &id) == RPCX_ERR_NULL_ARG);
        CHECK(afns[i](xc, "Who", NULL, 0, NULL, 0, NULL, NULL, &id) == RPCX_ERR_NULL_ARG);
        CHECK(afns[i](xc, "\xff", NULL, 0, NULL, 0, never, NULL, &id) == RPCX_ERR_INVALID_ARG);
        CHECK(id == 77);
    }
    err = NULL;
    expect_err(rpcx_xclient_send(NULL, "Note", NULL, 0, NULL, &err), RPCX_ERR_NULL_ARG, &err);
    err = NULL;
    expect_err(rpcx_xclient_send(xc, NULL, NULL, 0, NULL, &err), RPCX_ERR_NULL_ARG, &err);
    err = NULL;
    expect_err(rpcx_xclient_send(xc, "Note", NULL, 0, NULL, &err), RPCX_ERR_CONNECTION, &err);
    CHECK(rpcx_xclient_cancel(NULL, 1) == RPCX_ERR_NULL_ARG);
    CHECK(rpcx_xclient_cancel(xc, 12345) == RPCX_ERR_NOT_FOUND);
    CHECK(rpcx_xclient_close(NULL) == RPCX_ERR_NULL_ARG);
    CHECK(rpcx_xclient_pending(NULL) == 0);
    CHECK(rpcx_xclient_server_count(NULL) == 0);
    CHECK(rpcx_xclient_server_count(xc) == 1);
    rpcx_xclient_free(xc);
    rpcx_xclient_free(NULL);
}

static void registry_errors(void) {
    rpcx_server *server = NULL;
    CHECK_OK(rpcx_server_new(NULL, &server));
    const char *eps[1] = {"http://127.0.0.1:1"};
    rpcx_error *err = NULL;
    expect_err(rpcx_server_add_etcd_registry(NULL, eps, 1, "/b", NULL, 0, &err),
               RPCX_ERR_NULL_ARG, &err);
    err = NULL;
    expect_err(rpcx_server_add_etcd_registry(server, NULL, 1, "/b", NULL, 0, &err),
               RPCX_ERR_NULL_ARG, &err);
    err = NULL;
    expect_err(rpcx_server_add_etcd_registry(server, eps, 0, "/b", NULL, 0, &err),
               RPCX_ERR_INVALID_ARG, &err);
    err = NULL;
    expect_err(rpcx_server_add_etcd_registry(server, eps, 1, NULL, NULL, 0, &err),
               RPCX_ERR_NULL_ARG, &err);
    err = NULL;
    expect_err(rpcx_server_add_etcd_registry(server, eps, 1, "/b", "\xff", 0, &err),
               RPCX_ERR_INVALID_ARG, &err);
    err = NULL;
    expect_err(rpcx_server_add_consul_registry(NULL, "127.0.0.1:1", "/b", NULL, 0, &err),
               RPCX_ERR_NULL_ARG, &err);
    err = NULL;
    expect_err(rpcx_server_add_consul_registry(server, NULL, "/b", NULL, 0, &err),
               RPCX_ERR_NULL_ARG, &err);
    err = NULL;
    expect_err(rpcx_server_add_consul_registry(server, "", "/b", NULL, 0, &err),
               RPCX_ERR_INVALID_ARG, &err);
    /* No Consul agent there: not an error. The registry is added, retries in the
     * background, and the metrics say it is down and why it keeps failing. */
    CHECK_OK(rpcx_server_enable_metrics(server));
    err = NULL;
    CHECK_OK(rpcx_server_add_consul_registry(server, "127.0.0.1:1", "/b", NULL, 0, &err));
    CHECK(err == NULL);
    rpcx_buf text = {0};
    CHECK_OK(rpcx_server_metrics_text(server, &text));
    char *metrics = strndup((const char *)text.data, text.len);
    CHECK(strstr(metrics, "rpcx_registry_up{registry=\"consul\",target=\"127.0.0.1:1\"} 0\n") != NULL);
    CHECK(strstr(metrics, "rpcx_registry_failures_total{registry=\"consul\",target=\"127.0.0.1:1\"} ") != NULL);
    CHECK(strstr(metrics, "rpcx_registry_failures_total{registry=\"consul\",target=\"127.0.0.1:1\"} 0\n") == NULL);
    free(metrics);
    rpcx_buf_free(&text);

    CHECK(rpcx_server_set_service_metadata(NULL, "T", "a=1") == RPCX_ERR_NULL_ARG);
    CHECK(rpcx_server_set_service_metadata(server, NULL, "a=1") == RPCX_ERR_NULL_ARG);
    CHECK(rpcx_server_set_service_metadata(server, "T", NULL) == RPCX_ERR_NULL_ARG);
    CHECK(rpcx_server_set_service_metadata(server, "", "a=1") == RPCX_ERR_INVALID_ARG);
    CHECK_OK(rpcx_server_set_service_metadata(server, "T", "a=1"));
    CHECK_OK(rpcx_server_set_service_metadata(server, "T", "a=2"));
    CHECK_OK(rpcx_server_shutdown(server, 0)); /* never started: can no longer be */
    CHECK(rpcx_server_set_service_metadata(server, "T", "a=1") == RPCX_ERR_INVALID_STATE);
    err = NULL;
    expect_err(rpcx_server_add_etcd_registry(server, eps, 1, "/b", NULL, 0, &err),
               RPCX_ERR_INVALID_STATE, &err);
    err = NULL;
    expect_err(rpcx_server_add_consul_registry(server, "127.0.0.1:1", "/b", NULL, 0, &err),
               RPCX_ERR_INVALID_STATE, &err);
    rpcx_server_free(server);
}

int main(void) {
    CHECK_STR(rpcx_status_str(RPCX_ERR_NO_SERVER), "no server available");
    discovery_errors();
    options_errors();
    xclient_errors();
    registry_errors();
    printf("test_xclient_errors: ok\n");
    return 0;
}
