/* Registration in Redis and discovery from Redis, all through the C API, against the real
 * redis-server with_redis.sh starts (RPCX_REDIS_ADDR): two C servers register service "T"
 * (one with metadata group=blue) in Go's RedisRegisterPlugin layout, an XClient on a Redis
 * discovery finds both and calls them, another with group "blue" only the first; a graceful
 * shutdown deletes a server's key and the XClients follow; a service registered on a running
 * server is published and its unregistration deletes it; bad arguments and an unreachable
 * Redis are clean errors. Skipped (77) without RPCX_REDIS_ADDR. */
#define _POSIX_C_SOURCE 200809L
#include "xclient_util.h"

static const char *BASE = "rpcx_c_redis";

static void with_registry(struct named_server *s, const char *redis, const char *meta) {
    rpcx_error *err = NULL;
    CHECK_CALL(rpcx_server_add_redis_registry(s->server, redis, BASE, NULL, 10000, &err), &err);
    if (meta != NULL) {
        CHECK_OK(rpcx_server_set_service_metadata(s->server, "T", meta));
    }
}

static rpcx_discovery *discovery_of(const char *redis, const char *service) {
    rpcx_discovery *d = NULL;
    rpcx_error *err = NULL;
    CHECK_CALL(rpcx_discovery_new_redis(redis, BASE, service, &d, &err), &err);
    return d;
}

static rpcx_xclient *redis_xclient(rpcx_discovery *d, const char *group) {
    rpcx_xclient_options *o = xopts(RPCX_SELECT_ROUND_ROBIN, RPCX_FAIL_FAILOVER);
    CHECK_OK(rpcx_xclient_options_set_group(o, group));
    rpcx_xclient *xc = NULL;
    rpcx_error *err = NULL;
    CHECK_CALL(rpcx_xclient_new("T", d, o, &xc, &err), &err);
    rpcx_xclient_options_free(o);
    return xc;
}

int main(void) {
    const char *redis = getenv("RPCX_REDIS_ADDR");
    if (redis == NULL || *redis == 0) {
        fprintf(stderr, "SKIP: RPCX_REDIS_ADDR not set (run through with_redis.sh)\n");
        return 77;
    }
    long guard = 60000;

    static struct named_server a, b;
    ns_create(&a, "a");
    ns_create(&b, "b");
    with_registry(&a, redis, "group=blue&weight=2");
    with_registry(&b, redis, NULL);
    ns_start(&a);
    ns_start(&b);

    rpcx_discovery *d_all = discovery_of(redis, "T");
    rpcx_discovery *d_blue = discovery_of(redis, "T");
    rpcx_xclient *all = redis_xclient(d_all, NULL);
    rpcx_xclient *blue = redis_xclient(d_blue, "blue");
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

    /* A graceful shutdown deletes a's key before it returns; both XClients follow. */
    CHECK_OK(rpcx_server_shutdown(a.server, 1000));
    wait_servers(all, 1, guard);
    wait_servers(blue, 0, guard);
    char who[16];
    CHECK_OK(xcall(all, "Who", "", who, sizeof who, 1));
    CHECK_STR(who, "b");
    CHECK(xcall(blue, "Who", "", who, sizeof who, 0) == RPCX_ERR_NO_SERVER);

    /* A service registered on the running b is published; unregistering deletes it. */
    CHECK_OK(rpcx_server_register(b.server, "Live", "Who", ns_who, &b, NULL));
    rpcx_discovery *d_live = discovery_of(redis, "Live");
    wait_len(d_live, 1, guard);
    CHECK_OK(rpcx_server_unregister(b.server, "Live"));
    wait_len(d_live, 0, guard);

    /* Bad arguments and an unreachable Redis are errors, never crashes. */
    rpcx_discovery *none = NULL;
    rpcx_error *err = NULL;
    CHECK(rpcx_discovery_new_redis("127.0.0.1:1", BASE, "T", &none, &err) != RPCX_OK);
    CHECK(none == NULL && err != NULL);
    CHECK(strstr(rpcx_error_message(err, NULL), "redis") != NULL);
    rpcx_error_free(err);
    CHECK(rpcx_discovery_new_redis(NULL, BASE, "T", &none, NULL) == RPCX_ERR_NULL_ARG);
    CHECK(rpcx_discovery_new_redis("", BASE, "T", &none, NULL) == RPCX_ERR_INVALID_ARG);
    CHECK(rpcx_discovery_new_redis(redis, BASE, "T", NULL, NULL) == RPCX_ERR_NULL_ARG);
    CHECK(rpcx_server_add_redis_registry(NULL, redis, BASE, NULL, 0, NULL) == RPCX_ERR_NULL_ARG);
    CHECK(rpcx_server_add_redis_registry(b.server, "", BASE, NULL, 0, NULL) == RPCX_ERR_INVALID_ARG);

    rpcx_xclient_free(all);
    rpcx_xclient_free(blue);
    rpcx_discovery_free(d_all);
    rpcx_discovery_free(d_blue);
    rpcx_discovery_free(d_live);
    CHECK_OK(rpcx_server_shutdown(b.server, 1000));
    ns_free(&a);
    ns_free(&b);
    printf("test_xclient_redis: ok\n");
    return 0;
}
