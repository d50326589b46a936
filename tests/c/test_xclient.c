/* XClient over in-process C servers: RoundRobin + Failover with a server shut down mid-run
 * (no failed call), run-time discovery updates from another thread, broadcast and fork
 * (blocking and async), oneway, a custom selector (with its finalizer exactly once), async
 * calls from several threads, close completing pending calls, other fail modes, peer and
 * empty discoveries. */
#define _POSIX_C_SOURCE 200809L
#include "xclient_util.h"

static struct named_server A, B, C;

static rpcx_discovery *multiple2(const char *a0, const char *m0, const char *a1, const char *m1) {
    rpcx_server_entry e[2];
    e[0].address = a0;
    e[0].metadata = m0;
    e[1].address = a1;
    e[1].metadata = m1;
    rpcx_discovery *d = NULL;
    CHECK_OK(rpcx_discovery_new_multiple(e, 2, &d));
    return d;
}

/* ---- failover while a server shuts down ---------------------------------------------- */

static atomic_int done_calls;

static int stop_b(void *arg) {
    (void)arg;
    wait_for(&done_calls, 40, 60000, "40 calls");
    CHECK_OK(rpcx_server_shutdown(B.server, 200));
    return 0;
}

static void test_failover(void) {
    ns_create(&A, "a");
    ns_create(&B, "b");
    ns_start(&A);
    ns_start(&B);
    rpcx_discovery *d = multiple2(A.address, "", B.address, NULL);
    CHECK(rpcx_discovery_len(d) == 2);
    rpcx_xclient_options *o = xopts(RPCX_SELECT_ROUND_ROBIN, RPCX_FAIL_FAILOVER);
    rpcx_xclient *xc = NULL;
    rpcx_error *err = NULL;
    CHECK_CALL(rpcx_xclient_new("T", d, o, &xc, &err), &err);
    rpcx_xclient_options_free(o);
    rpcx_discovery_free(d); /* the XClient keeps it */
    CHECK(rpcx_xclient_server_count(xc) == 2);

    thrd_t t;
    CHECK(thrd_create(&t, stop_b, NULL) == thrd_success);
    int seen_a = 0, seen_b = 0, failed = 0;
    for (int i = 0; i < 200; i++) {
        char who[16];
        if (xcall(xc, "Who", "", who, sizeof who, 1) != RPCX_OK) {
            failed++;
        } else if (strcmp(who, "a") == 0) {
            seen_a++;
        } else if (strcmp(who, "b") == 0) {
            seen_b++;
        }
        atomic_fetch_add(&done_calls, 1);
    }
    CHECK(thrd_join(t, NULL) == thrd_success);
    fprintf(stderr, "failover: a=%d b=%d failed=%d\n", seen_a, seen_b, failed);
    CHECK(failed == 0);
    CHECK(seen_a + seen_b == 200);
    CHECK(seen_a > 100 && seen_b >= 20);
    /* b is down: everything goes to a. */
    for (int i = 0; i < 10; i++) {
        char who[16];
        CHECK_OK(xcall(xc, "Who", "", who, sizeof who, 1));
        CHECK_STR(who, "a");
    }
    rpcx_xclient_free(xc);
    ns_free(&B);
}

/* ---- discovery updated from another thread; broadcast, fork, oneway ------------------- */

static rpcx_discovery *g_disc;

static int update_to_a_and_c(void *arg) {
    (void)arg;
    rpcx_server_entry e[2];
    e[0].address = A.address;
    e[0].metadata = "pick=0";
    e[1].address = C.address;
    e[1].metadata = "pick=1";
    CHECK_OK(rpcx_discovery_update(g_disc, e, 2));
    return 0;
}

struct outcome {
    atomic_int done;
    rpcx_status status;
    char text[64];
};

static void on_outcome(void *ud, uint64_t id, rpcx_status status, const uint8_t *reply,
                       size_t reply_len, const rpcx_metadata *meta, const rpcx_error *error) {
    (void)id;
    (void)meta;
    struct outcome *o = ud;
    o->status = status;
    if (status == RPCX_OK) {
        size_t n = reply_len < sizeof o->text - 1 ? reply_len : sizeof o->text - 1;
        if (n > 0) memcpy(o->text, reply, n);
        o->text[n] = 0;
        CHECK(error == NULL);
    } else {
        snprintf(o->text, sizeof o->text, "%s", err_text(error));
        CHECK(rpcx_error_code(error) == status);
    }
    atomic_store(&o->done, 1);
}

static void test_update_broadcast_fork(void) {
    ns_create(&C, "c");
    ns_start(&C);
    CHECK_OK(rpcx_discovery_new_peer(A.address, NULL, &g_disc));
    rpcx_status s = rpcx_discovery_update(g_disc, NULL, 0);
    CHECK(s == RPCX_ERR_INVALID_STATE); /* a peer is fixed */
    rpcx_discovery_free(g_disc);

    g_disc = multiple2(A.address, "pick=0", "tcp@127.0.0.1:1", NULL);
    rpcx_xclient_options *o = xopts(RPCX_SELECT_ROUND_ROBIN, RPCX_FAIL_FAILOVER);
    rpcx_xclient *xc = NULL;
    CHECK_OK(rpcx_xclient_new("T", g_disc, o, &xc, NULL));
    rpcx_xclient_options_free(o);

    /* Broadcast fails with a dead server in the list; fork takes the live one. */
    rpcx_error *err = NULL;
    s = rpcx_xclient_broadcast(xc, "Who", NULL, 0, NULL, 0, NULL, NULL, &err);
    CHECK(s == RPCX_ERR_CONNECTION);
    rpcx_error_free(err);
    err = NULL;
    rpcx_buf reply = empty_buf();
    CHECK_CALL(rpcx_xclient_fork(xc, "Who", NULL, 0, NULL, 0, &reply, NULL, &err), &err);
    CHECK(reply.len == 1 && reply.data[0] == 'a');
    rpcx_buf_free(&reply);

    thrd_t t;
    CHECK(thrd_create(&t, update_to_a_and_c, NULL) == thrd_success);
    CHECK(thrd_join(t, NULL) == thrd_success);
    /* The XClient follows the update in the background, and it already had two servers (a
     * and the dead one): wait until it reaches c. */
    long until = now_ms() + 10000;
    for (;;) {
        char who[16];
        CHECK_OK(xcall(xc, "Who", "", who, sizeof who, 1));
        if (strcmp(who, "c") == 0) {
            break;
        }
        CHECK(now_ms() < until);
    }
    wait_servers(xc, 2, 10000);
    int seen_c = 0;
    for (int i = 0; i < 10; i++) {
        char who[16];
        CHECK_OK(xcall(xc, "Who", "", who, sizeof who, 1));
        seen_c += strcmp(who, "c") == 0;
    }
    CHECK(seen_c == 5);

    /* Broadcast: every server answers; one error fails it with the server's text. */
    rpcx_metadata *md = rpcx_metadata_new();
    CHECK_OK(rpcx_metadata_set(md, "k", "v"));
    rpcx_metadata *reply_meta = NULL;
    int before = atomic_load(&A.calls) + atomic_load(&C.calls);
    CHECK_CALL(rpcx_xclient_broadcast(xc, "Echo", (const uint8_t *)"hi", 2, md, 5000, &reply,
                                      &reply_meta, &err),
               &err);
    CHECK(atomic_load(&A.calls) + atomic_load(&C.calls) == before + 2);
    CHECK(reply.len == 2 && memcmp(reply.data, "hi", 2) == 0);
    CHECK_STR(meta_get(reply_meta, "k"), "v");
    rpcx_buf_free(&reply);
    rpcx_metadata_free(reply_meta);
    rpcx_metadata_free(md);
    s = rpcx_xclient_broadcast(xc, "FailOn", (const uint8_t *)"a", 1, NULL, 0, &reply, NULL,
                               &err);
    CHECK(s == RPCX_ERR_SERVER);
    CHECK_STR(rpcx_error_message(err, NULL), "failing on purpose");
    CHECK(reply.data == NULL && reply.len == 0); /* not written on failure */
    rpcx_error_free(err);
    err = NULL;
    /* Fork: the first success wins. */
    CHECK_CALL(rpcx_xclient_fork(xc, "FailOn", (const uint8_t *)"a", 1, NULL, 0, &reply, NULL,
                                 &err),
               &err);
    CHECK(reply.len == 1 && reply.data[0] == 'c');
    rpcx_buf_free(&reply);

    /* The async twins. */
    struct outcome ob = {0}, of = {0};
    uint64_t id1 = 0, id2 = 0;
    CHECK_OK(rpcx_xclient_broadcast_async(xc, "FailOn", (const uint8_t *)"c", 1, NULL, 0,
                                          on_outcome, &ob, &id1));
    CHECK_OK(rpcx_xclient_fork_async(xc, "FailOn", (const uint8_t *)"c", 1, NULL, 0, on_outcome,
                                     &of, &id2));
    CHECK(id1 != 0 && id2 != 0 && id1 != id2);
    wait_for(&ob.done, 1, 30000, "broadcast_async");
    wait_for(&of.done, 1, 30000, "fork_async");
    CHECK(ob.status == RPCX_ERR_SERVER);
    CHECK_STR(ob.text, "failing on purpose");
    CHECK(of.status == RPCX_OK);
    CHECK_STR(of.text, "a");

    /* Oneway. */
    int notes = atomic_load(&A.notes) + atomic_load(&C.notes);
    CHECK_CALL(rpcx_xclient_send(xc, "Note", NULL, 0, NULL, &err), &err);
    long end = now_ms() + 10000;
    while (atomic_load(&A.notes) + atomic_load(&C.notes) == notes) {
        CHECK(now_ms() < end);
        sleep_ms(1);
    }

    /* Emptied list: no server. */
    CHECK_OK(rpcx_discovery_update(g_disc, NULL, 0));
    wait_servers(xc, 0, 10000);
    char who[16];
    CHECK(xcall(xc, "Who", "", who, sizeof who, 0) == RPCX_ERR_NO_SERVER);
    s = rpcx_xclient_broadcast(xc, "Who", NULL, 0, NULL, 0, NULL, NULL, NULL);
    CHECK(s == RPCX_ERR_NO_SERVER);
    CHECK(rpcx_xclient_send(xc, "Note", NULL, 0, NULL, NULL) == RPCX_ERR_NO_SERVER);
    rpcx_xclient_free(xc);
}

/* ---- custom selector ----------------------------------------------------------------- */

static atomic_int selector_calls;
static atomic_int selector_finalized;
static atomic_int selector_refuse;

static int64_t pick_marked(void *ud, const char *service, const char *method, const uint8_t *args,
                           size_t args_len, const rpcx_server_entry *servers, size_t n) {
    CHECK(ud == &selector_calls);
    CHECK(strcmp(service, "T") == 0);
    CHECK(strcmp(method, "Echo") == 0 || strcmp(method, "Who") == 0);
    CHECK((args == NULL) == (args_len == 0));
    CHECK(n == 2);
    CHECK(strcmp(servers[0].address, servers[1].address) < 0); /* sorted */
    atomic_fetch_add(&selector_calls, 1);
    if (atomic_load(&selector_refuse)) {
        return -1;
    }
    for (size_t i = 0; i < n; i++) {
        if (strstr(servers[i].metadata, "pick=1") != NULL) {
            return (int64_t)i;
        }
    }
    return 0;
}

static void selector_fin(void *ud) {
    CHECK(ud == &selector_calls);
    atomic_fetch_add(&selector_finalized, 1);
}

static void test_selector(void) {
    rpcx_discovery *d = multiple2(A.address, "pick=0", C.address, "x=1&pick=1");
    rpcx_xclient_options *o = xopts(RPCX_SELECT_RANDOM, RPCX_FAIL_FAILFAST);
    CHECK_OK(rpcx_xclient_options_set_selector(o, pick_marked, &selector_calls, selector_fin));
    rpcx_xclient *xc = NULL, *xc2 = NULL;
    CHECK_OK(rpcx_xclient_new("T", d, o, &xc, NULL));
    CHECK_OK(rpcx_xclient_new("T", d, o, &xc2, NULL));
    rpcx_xclient_options_free(o); /* the XClients keep the selector */
    CHECK(atomic_load(&selector_finalized) == 0);
    for (int i = 0; i < 20; i++) {
        char who[16];
        CHECK_OK(xcall(i % 2 ? xc : xc2, "Who", "", who, sizeof who, 1));
        CHECK_STR(who, "c");
    }
    char echo[16];
    CHECK_OK(xcall(xc, "Echo", "abc", echo, sizeof echo, 1));
    CHECK_STR(echo, "abc");
    CHECK(atomic_load(&selector_calls) >= 21);
    atomic_store(&selector_refuse, 1);
    CHECK(xcall(xc, "Who", "", echo, sizeof echo, 0) == RPCX_ERR_NO_SERVER);
    atomic_store(&selector_refuse, 0);
    rpcx_xclient_free(xc);
    CHECK(atomic_load(&selector_finalized) == 0); /* xc2 still uses it */
    rpcx_xclient_free(xc2);
    CHECK(atomic_load(&selector_finalized) == 1);
    rpcx_discovery_free(d);

    /* Replacing a selector finalizes the old one at once (no XClient uses it). */
    atomic_store(&selector_finalized, 0);
    o = rpcx_xclient_options_new();
    CHECK_OK(rpcx_xclient_options_set_selector(o, pick_marked, &selector_calls, selector_fin));
    CHECK_OK(rpcx_xclient_options_set_select_mode(o, RPCX_SELECT_CONSISTENT_HASH));
    CHECK(atomic_load(&selector_finalized) == 1);
    rpcx_xclient_options_free(o);
    CHECK(atomic_load(&selector_finalized) == 1);
}

/* ---- async calls from several threads ------------------------------------------------- */

enum { THREADS = 4, PER_THREAD = 50 };
static rpcx_xclient *g_xc;
static atomic_int async_done, async_bad;

struct expect {
    char payload[24];
    atomic_int calls;
};
static struct expect expects[THREADS][PER_THREAD];

static void on_echo_done(void *ud, uint64_t id, rpcx_status status, const uint8_t *reply,
                         size_t reply_len, const rpcx_metadata *meta, const rpcx_error *error) {
    (void)meta;
    struct expect *e = ud;
    CHECK(id != 0);
    if (atomic_fetch_add(&e->calls, 1) != 0 || status != RPCX_OK || error != NULL ||
        reply_len != strlen(e->payload) || memcmp(reply, e->payload, reply_len) != 0) {
        fprintf(stderr, "bad async completion: %s %s\n", rpcx_status_str((int)status),
                err_text(error));
        atomic_fetch_add(&async_bad, 1);
    }
    /* A blocking call here, on a runtime thread, is refused rather than deadlocking. */
    if (e == &expects[0][0]) {
        CHECK(rpcx_xclient_call(g_xc, "Who", NULL, 0, NULL, 0, NULL, NULL, NULL) ==
              RPCX_ERR_BLOCKING_IN_RUNTIME);
    }
    atomic_fetch_add(&async_done, 1);
}

static int async_caller(void *arg) {
    int t = (int)(intptr_t)arg;
    for (int i = 0; i < PER_THREAD; i++) {
        struct expect *e = &expects[t][i];
        snprintf(e->payload, sizeof e->payload, "t%d-%d", t, i);
        CHECK_OK(rpcx_xclient_call_async(g_xc, "Echo", (const uint8_t *)e->payload,
                                         strlen(e->payload), NULL, 10000, on_echo_done, e,
                                         NULL));
    }
    return 0;
}

static void test_async_threads(void) {
    rpcx_discovery *d = multiple2(A.address, NULL, C.address, NULL);
    rpcx_xclient_options *o = xopts(RPCX_SELECT_RANDOM, RPCX_FAIL_FAILOVER);
    CHECK_OK(rpcx_xclient_new("T", d, o, &g_xc, NULL));
    rpcx_xclient_options_free(o);
    rpcx_discovery_free(d);
    thrd_t t[THREADS];
    for (int i = 0; i < THREADS; i++) {
        CHECK(thrd_create(&t[i], async_caller, (void *)(intptr_t)i) == thrd_success);
    }
    for (int i = 0; i < THREADS; i++) {
        CHECK(thrd_join(t[i], NULL) == thrd_success);
    }
    wait_for(&async_done, THREADS * PER_THREAD, 120000, "async xclient calls");
    CHECK(atomic_load(&async_bad) == 0);
    for (int i = 0; i < THREADS; i++) {
        for (int j = 0; j < PER_THREAD; j++) {
            CHECK(atomic_load(&expects[i][j].calls) == 1);
        }
    }
    CHECK(rpcx_xclient_pending(g_xc) == 0);
    rpcx_xclient_free(g_xc);
    g_xc = NULL;
}

/* ---- close with pending calls; cancel --------------------------------------------------- */

static thrd_t main_thread;

static void on_closed(void *ud, uint64_t id, rpcx_status status, const uint8_t *reply,
                      size_t reply_len, const rpcx_metadata *meta, const rpcx_error *error) {
    (void)id;
    struct outcome *o = ud;
    if (!thrd_equal(thrd_current(), main_thread)) { /* completed by cancel/close, here */
        fprintf(stderr, "call completed on another thread: %s: %s\n",
                rpcx_status_str((int)status), err_text(error));
        exit(1);
    }
    CHECK(reply == NULL && reply_len == 0 && meta == NULL && error != NULL);
    o->status = status;
    atomic_fetch_add(&o->done, 1);
}

static void test_close_pending(void) {
    rpcx_discovery *d = NULL;
    CHECK_OK(rpcx_discovery_new_peer(A.address, "", &d));
    rpcx_xclient_options *o = xopts(RPCX_SELECT_ROUND_ROBIN, RPCX_FAIL_FAILTRY);
    rpcx_xclient *xc = NULL;
    CHECK_OK(rpcx_xclient_new("T", d, o, &xc, NULL));
    rpcx_xclient_options_free(o);
    rpcx_discovery_free(d);
    main_thread = thrd_current();

    struct outcome cancelled = {0}, closed = {0};
    uint64_t id = 0;
    CHECK_OK(rpcx_xclient_call_async(xc, "Park", NULL, 0, NULL, 0, on_closed, &cancelled, &id));
    CHECK_OK(rpcx_xclient_call_async(xc, "Park", NULL, 0, NULL, 0, on_closed, &closed, NULL));
    CHECK(rpcx_xclient_pending(xc) == 2);
    wait_for(&A.parked_count, 2, 30000, "parked calls");
    CHECK_OK(rpcx_xclient_cancel(xc, id));
    CHECK(atomic_load(&cancelled.done) == 1 && cancelled.status == RPCX_ERR_CANCELLED);
    CHECK(rpcx_xclient_cancel(xc, id) == RPCX_ERR_NOT_FOUND);
    CHECK_OK(rpcx_xclient_close(xc));
    CHECK(atomic_load(&closed.done) == 1 && closed.status == RPCX_ERR_CLOSED);
    CHECK(rpcx_xclient_pending(xc) == 0);
    CHECK_OK(rpcx_xclient_close(xc)); /* idempotent */
    char who[16];
    CHECK(xcall(xc, "Who", "", who, sizeof who, 0) == RPCX_ERR_CLOSED);
    CHECK(rpcx_xclient_send(xc, "Note", NULL, 0, NULL, NULL) == RPCX_ERR_CLOSED);
    CHECK(rpcx_xclient_call_async(xc, "Who", NULL, 0, NULL, 0, on_closed, &closed, NULL) ==
          RPCX_ERR_CLOSED);
    rpcx_xclient_free(xc);
    CHECK(atomic_load(&closed.done) == 1);
    ns_release_parked(&A);

    /* Free with a call pending completes it too. */
    CHECK_OK(rpcx_discovery_new_peer(A.address, "", &d));
    CHECK_OK(rpcx_xclient_new("T", d, NULL, &xc, NULL));
    rpcx_discovery_free(d);
    struct outcome freed = {0};
    CHECK_OK(rpcx_xclient_call_async(xc, "Park", NULL, 0, NULL, 0, on_closed, &freed, NULL));
    wait_for(&A.parked_count, 3, 30000, "parked call");
    rpcx_xclient_free(xc);
    CHECK(atomic_load(&freed.done) == 1 && freed.status == RPCX_ERR_CLOSED);
    ns_release_parked(&A);
}

/* ---- other fail and select modes ---------------------------------------------------------- */

static void test_modes(void) {
    const char *dead = "tcp@127.0.0.1:1";
    rpcx_discovery *d = NULL;
    CHECK_OK(rpcx_discovery_new_peer(dead, NULL, &d));
    rpcx_xclient_options *o = xopts(RPCX_SELECT_ROUND_ROBIN, RPCX_FAIL_FAILFAST);
    rpcx_xclient *xc = NULL;
    CHECK_OK(rpcx_xclient_new("T", d, o, &xc, NULL));
    char who[16];
    CHECK(xcall(xc, "Who", "", who, sizeof who, 0) == RPCX_ERR_CONNECTION);
    rpcx_xclient_free(xc);
    rpcx_xclient_options_free(o);
    rpcx_discovery_free(d);

    /* Failtry with one dead server: retries it, then fails. */
    d = multiple2(dead, "", A.address, "");
    o = xopts(RPCX_SELECT_CONSISTENT_HASH, RPCX_FAIL_FAILTRY);
    CHECK_OK(rpcx_xclient_options_set_retries(o, 1));
    CHECK_OK(rpcx_xclient_new("T", d, o, &xc, NULL));
    rpcx_xclient_options_free(o);
    /* Whatever the hash picks, a call either reaches a or fails to connect to the dead one. */
    for (int i = 0; i < 6; i++) {
        char payload[8];
        snprintf(payload, sizeof payload, "k%d", i);
        rpcx_status s = xcall(xc, "Who", payload, who, sizeof who, 0);
        CHECK(s == RPCX_OK || s == RPCX_ERR_CONNECTION);
        if (s == RPCX_OK) CHECK_STR(who, "a");
    }
    rpcx_xclient_free(xc);

    /* Failbackup, WeightedRoundRobin, Closest (servers without coordinates are never chosen). */
    static const int modes[] = {RPCX_SELECT_WEIGHTED_ROUND_ROBIN, RPCX_SELECT_WEIGHTED_ICMP,
                                RPCX_SELECT_RANDOM, RPCX_SELECT_HEARTBEAT_RTT};
    for (size_t m = 0; m < sizeof modes / sizeof modes[0]; m++) {
        rpcx_discovery *d2 = multiple2(A.address, "weight=3", C.address, "weight=1");
        o = xopts(modes[m], RPCX_FAIL_FAILBACKUP);
        CHECK_OK(rpcx_xclient_options_set_backup_latency_ms(o, 50));
        CHECK_OK(rpcx_xclient_new("T", d2, o, &xc, NULL));
        rpcx_xclient_options_free(o);
        for (int i = 0; i < 8; i++) {
            CHECK_OK(xcall(xc, "Who", "", who, sizeof who, 1));
        }
        rpcx_xclient_free(xc);
        rpcx_discovery_free(d2);
    }
    rpcx_discovery_free(d);
    d = multiple2(A.address, "latitude=48.85&longitude=2.35", C.address,
                  "latitude=40.71&longitude=-74.0");
    o = xopts(RPCX_SELECT_CLOSEST, RPCX_FAIL_FAILFAST);
    CHECK_OK(rpcx_xclient_options_set_location(o, 51.5, -0.12)); /* London: Paris is closer */
    CHECK_OK(rpcx_xclient_new("T", d, o, &xc, NULL));
    rpcx_xclient_options_free(o);
    for (int i = 0; i < 5; i++) {
        CHECK_OK(xcall(xc, "Who", "", who, sizeof who, 1));
        CHECK_STR(who, "a");
    }
    rpcx_xclient_free(xc);
    rpcx_discovery_free(d);

    /* Groups: only servers whose metadata lists the group. */
    d = multiple2(A.address, "group=blue", C.address, "group=red");
    o = xopts(RPCX_SELECT_ROUND_ROBIN, RPCX_FAIL_FAILOVER);
    CHECK_OK(rpcx_xclient_options_set_group(o, "red"));
    CHECK_OK(rpcx_xclient_new("T", d, o, &xc, NULL));
    rpcx_xclient_options_free(o);
    CHECK(rpcx_xclient_server_count(xc) == 1);
    for (int i = 0; i < 4; i++) {
        CHECK_OK(xcall(xc, "Who", "", who, sizeof who, 1));
        CHECK_STR(who, "c");
    }
    rpcx_xclient_free(xc);
    rpcx_discovery_free(d);
}

/* What rpcx_xclient_inform reports: each server's outcome, in the order of their keys. */
struct receipts {
    int n;
    char server[4][64];
    rpcx_status status[4];
    char text[4][64];
};

static void on_receipt(void *ud, const char *server, const uint8_t *reply, size_t reply_len,
                       const rpcx_metadata *reply_meta, const rpcx_error *error) {
    struct receipts *r = ud;
    CHECK(r->n < 4);
    int i = r->n++;
    snprintf(r->server[i], sizeof r->server[i], "%s", server);
    if (error == NULL) {
        CHECK(reply_meta != NULL);
        r->status[i] = RPCX_OK;
        snprintf(r->text[i], sizeof r->text[i], "%.*s", (int)reply_len, (const char *)reply);
    } else {
        CHECK(reply == NULL && reply_len == 0 && reply_meta == NULL);
        r->status[i] = rpcx_error_code(error);
        snprintf(r->text[i], sizeof r->text[i], "%s", rpcx_error_message(error, NULL));
    }
}

/* The receipt of `server` (the test fails when it is missing). */
static int receipt_of(const struct receipts *r, const char *server) {
    for (int i = 0; i < r->n; i++) {
        if (strcmp(r->server[i], server) == 0) {
            return i;
        }
    }
    fprintf(stderr, "no receipt for %s\n", server);
    exit(1);
}

/* Inform reports every server's own outcome; a breaker stops dialling a dead server. */
static void test_inform_and_breaker(void) {
    const char *dead = "tcp@127.0.0.1:1";
    rpcx_server_entry e[3] = {{A.address, NULL}, {C.address, NULL}, {dead, NULL}};
    rpcx_discovery *d = NULL;
    CHECK_OK(rpcx_discovery_new_multiple(e, 3, &d));
    rpcx_xclient_options *o = xopts(RPCX_SELECT_ROUND_ROBIN, RPCX_FAIL_FAILOVER);
    rpcx_xclient *xc = NULL;
    CHECK_OK(rpcx_xclient_new("T", d, o, &xc, NULL));
    rpcx_xclient_options_free(o);

    struct receipts r = {0};
    size_t count = 0;
    rpcx_error *err = NULL;
    CHECK_CALL(rpcx_xclient_inform(xc, "Who", NULL, 0, NULL, 5000, on_receipt, &r, &count, &err),
               &err);
    CHECK(count == 3 && r.n == 3);
    for (int i = 1; i < r.n; i++) {
        CHECK(strcmp(r.server[i - 1], r.server[i]) < 0); /* in the order of their keys */
    }
    int ia = receipt_of(&r, A.address), ic = receipt_of(&r, C.address), id = receipt_of(&r, dead);
    CHECK(r.status[ia] == RPCX_OK && strcmp(r.text[ia], "a") == 0);
    CHECK(r.status[ic] == RPCX_OK && strcmp(r.text[ic], "c") == 0);
    CHECK(r.status[id] == RPCX_ERR_CONNECTION);

    /* A server's error is its own receipt, with the server's text. */
    memset(&r, 0, sizeof r);
    CHECK_CALL(rpcx_xclient_inform(xc, "FailOn", (const uint8_t *)"a", 1, NULL, 5000, on_receipt,
                                   &r, NULL, &err),
               &err);
    ia = receipt_of(&r, A.address);
    ic = receipt_of(&r, C.address);
    CHECK(r.status[ia] == RPCX_ERR_SERVER && strcmp(r.text[ia], "failing on purpose") == 0);
    CHECK(r.status[ic] == RPCX_OK && strcmp(r.text[ic], "c") == 0);

    CHECK_STATUS(rpcx_xclient_inform(xc, "Who", NULL, 0, NULL, 0, NULL, NULL, NULL, NULL),
                 RPCX_ERR_NULL_ARG);
    CHECK_OK(rpcx_discovery_update(d, NULL, 0));
    wait_servers(xc, 0, 10000);
    memset(&r, 0, sizeof r);
    CHECK_STATUS(rpcx_xclient_inform(xc, "Who", NULL, 0, NULL, 0, on_receipt, &r, NULL, NULL),
                 RPCX_ERR_NO_SERVER);
    CHECK(r.n == 0);
    rpcx_xclient_free(xc);
    rpcx_discovery_free(d);

    /* Breaker: one failed dial opens it; the next call is refused without dialling. */
    CHECK_OK(rpcx_discovery_new_multiple(&e[2], 1, &d));
    o = xopts(RPCX_SELECT_ROUND_ROBIN, RPCX_FAIL_FAILFAST);
    CHECK_OK(rpcx_xclient_options_set_breaker(o, 1, 3600 * 1000));
    CHECK_OK(rpcx_xclient_new("T", d, o, &xc, NULL));
    rpcx_xclient_options_free(o);
    CHECK(rpcx_xclient_call(xc, "Who", NULL, 0, NULL, 0, NULL, NULL, &err) == RPCX_ERR_CONNECTION);
    CHECK(strstr(rpcx_error_message(err, NULL), "breaker") == NULL);
    rpcx_error_free(err);
    err = NULL;
    CHECK(rpcx_xclient_call(xc, "Who", NULL, 0, NULL, 0, NULL, NULL, &err) == RPCX_ERR_CONNECTION);
    CHECK(strstr(rpcx_error_message(err, NULL), "breaker open") != NULL);
    rpcx_error_free(err);
    CHECK_STATUS(rpcx_xclient_options_set_breaker(NULL, 1, 1), RPCX_ERR_NULL_ARG);
    rpcx_xclient_free(xc);
    rpcx_discovery_free(d);

    /* Dead-server detector (on by default): Failfast over [dead, A] round robin: the first
     * call that meets the dead server fails, then it is out of rotation and every call goes
     * to A. Turned off, every other call fails (Go's behaviour). */
    rpcx_server_entry pair[2] = {{dead, NULL}, {A.address, NULL}};
    for (int on = 1; on >= 0; on--) {
        CHECK_OK(rpcx_discovery_new_multiple(pair, 2, &d));
        o = xopts(RPCX_SELECT_ROUND_ROBIN, RPCX_FAIL_FAILFAST);
        CHECK_OK(rpcx_xclient_options_set_health(o, on, 1000, 2000));
        CHECK_OK(rpcx_xclient_new("T", d, o, &xc, NULL));
        rpcx_xclient_options_free(o);
        int failed = 0;
        for (int i = 0; i < 20; i++) {
            if (rpcx_xclient_call(xc, "Who", NULL, 0, NULL, 0, NULL, NULL, NULL) != RPCX_OK) {
                failed++;
            }
        }
        CHECK(on ? failed <= 1 : failed == 10);
        rpcx_xclient_free(xc);
        rpcx_discovery_free(d);
    }
    o = rpcx_xclient_options_new();
    CHECK_STATUS(rpcx_xclient_options_set_health(NULL, 1, 1000, 2000), RPCX_ERR_NULL_ARG);
    CHECK_STATUS(rpcx_xclient_options_set_health(o, 1, 0, 2000), RPCX_ERR_INVALID_ARG);
    CHECK_STATUS(rpcx_xclient_options_set_health(o, 1, 1000, 10), RPCX_ERR_INVALID_ARG);
    CHECK_OK(rpcx_xclient_options_set_health(o, 0, 0, 0));
    rpcx_xclient_options_free(o);
}

int main(void) {
    test_failover();
    test_update_broadcast_fork();
    test_selector();
    test_async_threads();
    test_close_pending();
    test_modes();
    test_inform_and_breaker();
    rpcx_discovery_free(g_disc);
    ns_free(&A);
    ns_free(&C);
    printf("test_xclient: ok\n");
    return 0;
}
