/* The registry scenario shared by the XClient tests of the key-value registries (Redis,
 * ZooKeeper, Consul), all through the C API against the store the test's wrapper starts:
 *   - two C servers register service "T" (a with metadata group=blue&weight=2, b without);
 *   - an XClient on a discovery of the engine finds both and calls them round-robin, another
 *     with group "blue" only a;
 *   - a graceful shutdown of a deletes its entry before it returns and both XClients follow
 *     (the "blue" one is left with no server: RPCX_ERR_NO_SERVER);
 *   - a service registered on the running b is published, its unregistration deletes it;
 *   - a discovery on an unreachable store is an error naming the engine (a registry on one is
 *     not: it retries, see test_xclient_errors.c), and NULL / empty arguments are
 *     RPCX_ERR_NULL_ARG / RPCX_ERR_INVALID_ARG, never crashes;
 *   - then the engine's own checks (`extra_checks`) on the running b.
 * Each engine's test file supplies a `struct registry_engine` and its own checks only. */
#ifndef RPCX_REGISTRY_CASE_H
#define RPCX_REGISTRY_CASE_H

#include "xclient_util.h"

/* rpcx_server_add_{redis,zookeeper,consul}_registry. */
typedef rpcx_status (*registry_add_fn)(const rpcx_server *server, const char *store,
                                       const char *base_path, const char *service_address,
                                       uint64_t interval_ms, rpcx_error **err_out);

/* rpcx_discovery_new_{redis,zookeeper,consul}. */
typedef rpcx_status (*discovery_new_fn)(const char *store, const char *base_path,
                                        const char *service, rpcx_discovery **discovery_out,
                                        rpcx_error **err_out);

/* One engine under test. All strings are borrowed for the duration of registry_case_run. */
struct registry_engine {
    /* Lower-case name, as the engine's error texts spell it ("redis"); the test is reported
     * as "test_xclient_<name>". */
    const char *name;
    /* Address of the store the wrapper started. */
    const char *store;
    /* Base path the servers register under. */
    const char *base;
    registry_add_fn add_registry;
    discovery_new_fn new_discovery;
    /* Engine-specific checks, run on the scenario's running server b (with a registry of the
     * engine) before it is shut down; NULL for none. */
    void (*extra_checks)(const struct registry_engine *e, rpcx_server *running);
};

/* The store address from the environment variable `var`, or NULL (after printing why) when
 * it is unset or empty: the test then exits 77 (skipped). */
static inline const char *registry_case_store(const char *var, const char *wrapper) {
    const char *store = getenv(var);
    if (store == NULL || *store == 0) {
        fprintf(stderr, "SKIP: %s not set (run through %s)\n", var, wrapper);
        return NULL;
    }
    return store;
}

static inline void rc_add_registry(const struct registry_engine *e, struct named_server *s,
                                   const char *meta) {
    rpcx_error *err = NULL;
    CHECK_CALL(e->add_registry(s->server, e->store, e->base, NULL, 10000, &err), &err);
    if (meta != NULL) {
        CHECK_OK(rpcx_server_set_service_metadata(s->server, "T", meta));
    }
}

static inline rpcx_discovery *rc_discovery(const struct registry_engine *e, const char *service) {
    rpcx_discovery *d = NULL;
    rpcx_error *err = NULL;
    CHECK_CALL(e->new_discovery(e->store, e->base, service, &d, &err), &err);
    return d;
}

static inline rpcx_xclient *rc_xclient(rpcx_discovery *d, const char *group) {
    rpcx_xclient_options *o = xopts(RPCX_SELECT_ROUND_ROBIN, RPCX_FAIL_FAILOVER);
    CHECK_OK(rpcx_xclient_options_set_group(o, group));
    rpcx_xclient *xc = NULL;
    rpcx_error *err = NULL;
    CHECK_CALL(rpcx_xclient_new("T", d, o, &xc, &err), &err);
    rpcx_xclient_options_free(o);
    return xc;
}

/* Bad arguments and an unreachable store: errors, never crashes. */
static inline void rc_bad_arguments(const struct registry_engine *e, rpcx_server *running) {
    rpcx_discovery *none = NULL;
    rpcx_error *err = NULL;
    CHECK(e->new_discovery("127.0.0.1:1", e->base, "T", &none, &err) != RPCX_OK);
    CHECK(none == NULL && err != NULL);
    CHECK(strstr(rpcx_error_message(err, NULL), e->name) != NULL);
    rpcx_error_free(err);
    CHECK(e->new_discovery(NULL, e->base, "T", &none, NULL) == RPCX_ERR_NULL_ARG);
    CHECK(e->new_discovery("", e->base, "T", &none, NULL) == RPCX_ERR_INVALID_ARG);
    CHECK(e->new_discovery(e->store, e->base, "T", NULL, NULL) == RPCX_ERR_NULL_ARG);
    CHECK(none == NULL);
    CHECK(e->add_registry(NULL, e->store, e->base, NULL, 0, NULL) == RPCX_ERR_NULL_ARG);
    CHECK(e->add_registry(running, "", e->base, NULL, 0, NULL) == RPCX_ERR_INVALID_ARG);
}

/* Runs the whole scenario (see the top of this file); returns the test's exit status. */
static inline int registry_case_run(const struct registry_engine *e) {
    long guard = 60000;

    static struct named_server a, b;
    ns_create(&a, "a");
    ns_create(&b, "b");
    rc_add_registry(e, &a, "group=blue&weight=2");
    rc_add_registry(e, &b, NULL);
    ns_start(&a);
    ns_start(&b);

    rpcx_discovery *d_all = rc_discovery(e, "T");
    rpcx_discovery *d_blue = rc_discovery(e, "T");
    rpcx_xclient *all = rc_xclient(d_all, NULL);
    rpcx_xclient *blue = rc_xclient(d_blue, "blue");
    wait_servers(all, 2, guard);
    wait_servers(blue, 1, guard);

    int seen_a = 0, seen_b = 0;
    for (int i = 0; i < 20; i++) {
        char who[16];
        CHECK_OK(xcall(all, "Who", "", who, sizeof who, 1));
        seen_a += strcmp(who, "a") == 0;
        seen_b += strcmp(who, "b") == 0;
        CHECK_OK(xcall(blue, "Who", "", who, sizeof who, 1));
        CHECK_STR(who, "a");
    }
    CHECK(seen_a == 10 && seen_b == 10);

    /* A graceful shutdown deletes a's entry before it returns; both XClients follow. */
    CHECK_OK(rpcx_server_shutdown(a.server, 1000));
    wait_servers(all, 1, guard);
    wait_servers(blue, 0, guard);
    char who[16];
    CHECK_OK(xcall(all, "Who", "", who, sizeof who, 1));
    CHECK_STR(who, "b");
    CHECK(xcall(blue, "Who", "", who, sizeof who, 0) == RPCX_ERR_NO_SERVER);

    /* A service registered on the running b is published; unregistering deletes it. */
    CHECK_OK(rpcx_server_register(b.server, "Live", "Who", ns_who, &b, NULL));
    rpcx_discovery *d_live = rc_discovery(e, "Live");
    wait_len(d_live, 1, guard);
    CHECK_OK(rpcx_server_unregister(b.server, "Live"));
    wait_len(d_live, 0, guard);

    rc_bad_arguments(e, b.server);
    if (e->extra_checks != NULL) {
        e->extra_checks(e, b.server);
    }

    rpcx_xclient_free(all);
    rpcx_xclient_free(blue);
    rpcx_discovery_free(d_all);
    rpcx_discovery_free(d_blue);
    rpcx_discovery_free(d_live);
    CHECK_OK(rpcx_server_shutdown(b.server, 1000));
    ns_free(&a);
    ns_free(&b);
    printf("test_xclient_%s: ok\n", e->name);
    return 0;
}

#endif
