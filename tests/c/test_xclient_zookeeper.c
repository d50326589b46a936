/* Registration in ZooKeeper and discovery from ZooKeeper, all through the C API, against the
 * real ZooKeeper with_zookeeper.sh starts (RPCX_ZOOKEEPER_ADDR): two C servers register service
 * "T" (one with metadata group=blue) in the rpcx-zookeeper plugin's layout, an XClient on a
 * ZooKeeper discovery finds both and calls them, another with group "blue" only the first; a
 * graceful shutdown deletes a server's node and the XClients follow; a service registered on a
 * running server is published and its unregistration deletes it; bad arguments, a base path
 * that is not a ZooKeeper path and an unreachable ZooKeeper are clean errors. Skipped (77)
 * without RPCX_ZOOKEEPER_ADDR. */
#define _POSIX_C_SOURCE 200809L
#include "xclient_util.h"

static const char *BASE = "rpcx_c_zk";

static void with_registry(struct named_server *s, const char *zk, const char *meta) {
    rpcx_error *err = NULL;
    CHECK_CALL(rpcx_server_add_zookeeper_registry(s->server, zk, BASE, NULL, 10000, &err), &err);
    if (meta != NULL) {
        CHECK_OK(rpcx_server_set_service_metadata(s->server, "T", meta));
    }
}

static rpcx_discovery *discovery_of(const char *zk, const char *service) {
    rpcx_discovery *d = NULL;
    rpcx_error *err = NULL;
    CHECK_CALL(rpcx_discovery_new_zookeeper(zk, BASE, service, &d, &err), &err);
    return d;
}

static rpcx_xclient *zk_xclient(rpcx_discovery *d, const char *group) {
    rpcx_xclient_options *o = xopts(RPCX_SELECT_ROUND_ROBIN, RPCX_FAIL_FAILOVER);
    CHECK_OK(rpcx_xclient_options_set_group(o, group));
    rpcx_xclient *xc = NULL;
    rpcx_error *err = NULL;
    CHECK_CALL(rpcx_xclient_new("T", d, o, &xc, &err), &err);
    rpcx_xclient_options_free(o);
    return xc;
}

int main(void) {
    const char *zk = getenv("RPCX_ZOOKEEPER_ADDR");
    if (zk == NULL || *zk == 0) {
        fprintf(stderr, "SKIP: RPCX_ZOOKEEPER_ADDR not set (run through with_zookeeper.sh)\n");
        return 77;
    }
    long guard = 60000;

    static struct named_server a, b;
    ns_create(&a, "a");
    ns_create(&b, "b");
    with_registry(&a, zk, "group=blue&weight=2");
    with_registry(&b, zk, NULL);
    ns_start(&a);
    ns_start(&b);

    rpcx_discovery *d_all = discovery_of(zk, "T");
    rpcx_discovery *d_blue = discovery_of(zk, "T");
    rpcx_xclient *all = zk_xclient(d_all, NULL);
    rpcx_xclient *blue = zk_xclient(d_blue, "blue");
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

    /* A graceful shutdown deletes a's node before it returns; both XClients follow. */
    CHECK_OK(rpcx_server_shutdown(a.server, 1000));
    wait_servers(all, 1, guard);
    wait_servers(blue, 0, guard);
    char who[16];
    CHECK_OK(xcall(all, "Who", "", who, sizeof who, 1));
    CHECK_STR(who, "b");
    CHECK(xcall(blue, "Who", "", who, sizeof who, 0) == RPCX_ERR_NO_SERVER);

    /* A service registered on the running b is published; unregistering deletes it. */
    CHECK_OK(rpcx_server_register(b.server, "Live", "Who", ns_who, &b, NULL));
    rpcx_discovery *d_live = discovery_of(zk, "Live");
    wait_len(d_live, 1, guard);
    CHECK_OK(rpcx_server_unregister(b.server, "Live"));
    wait_len(d_live, 0, guard);

    /* Bad arguments and an unreachable ZooKeeper are errors, never crashes. */
    rpcx_discovery *none = NULL;
    rpcx_error *err = NULL;
    CHECK(rpcx_discovery_new_zookeeper("127.0.0.1:1", BASE, "T", &none, &err) != RPCX_OK);
    CHECK(none == NULL && err != NULL);
    CHECK(strstr(rpcx_error_message(err, NULL), "zookeeper") != NULL);
    rpcx_error_free(err);
    CHECK(rpcx_discovery_new_zookeeper(NULL, BASE, "T", &none, NULL) == RPCX_ERR_NULL_ARG);
    CHECK(rpcx_discovery_new_zookeeper("", BASE, "T", &none, NULL) == RPCX_ERR_INVALID_ARG);
    CHECK(rpcx_discovery_new_zookeeper(zk, BASE, "T", NULL, NULL) == RPCX_ERR_NULL_ARG);
    CHECK(rpcx_server_add_zookeeper_registry(NULL, zk, BASE, NULL, 0, NULL) == RPCX_ERR_NULL_ARG);
    CHECK(rpcx_server_add_zookeeper_registry(b.server, "", BASE, NULL, 0, NULL) == RPCX_ERR_INVALID_ARG);
    /* Not a ZooKeeper path. */
    CHECK(rpcx_server_add_zookeeper_registry(b.server, zk, "a//b", NULL, 0, NULL) != RPCX_OK);
    CHECK(rpcx_discovery_new_zookeeper(zk, "/", "T", &none, NULL) != RPCX_OK && none == NULL);

    rpcx_xclient_free(all);
    rpcx_xclient_free(blue);
    rpcx_discovery_free(d_all);
    rpcx_discovery_free(d_blue);
    rpcx_discovery_free(d_live);
    CHECK_OK(rpcx_server_shutdown(b.server, 1000));
    ns_free(&a);
    ns_free(&b);
    printf("test_xclient_zookeeper: ok\n");
    return 0;
}
