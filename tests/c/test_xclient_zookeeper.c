/* Registration in ZooKeeper and discovery from ZooKeeper, all through the C API, against the
 * real ZooKeeper with_zookeeper.sh starts (RPCX_ZOOKEEPER_ADDR): the scenario of
 * registry_case.h (two servers in the rpcx-zookeeper plugin's layout, XClients with and
 * without a group, a graceful shutdown followed, live register/unregister, bad arguments and
 * an unreachable ZooKeeper), then base paths that are not ZooKeeper paths, which are clean
 * errors. Skipped (77) without RPCX_ZOOKEEPER_ADDR. */
#define _POSIX_C_SOURCE 200809L
#include "registry_case.h"

/* Not a ZooKeeper path: an empty segment, or nothing below the root. */
static void bad_paths(const struct registry_engine *e, rpcx_server *running) {
    rpcx_discovery *none = NULL;
    CHECK(rpcx_server_add_zookeeper_registry(running, e->store, "a//b", NULL, 0, NULL) != RPCX_OK);
    CHECK(rpcx_discovery_new_zookeeper(e->store, "/", "T", &none, NULL) != RPCX_OK && none == NULL);
}

int main(void) {
    const char *zk = registry_case_store("RPCX_ZOOKEEPER_ADDR", "with_zookeeper.sh");
    if (zk == NULL) {
        return 77;
    }
    const struct registry_engine zk_engine = {
        .name = "zookeeper",
        .store = zk,
        .base = "rpcx_c_zk",
        .add_registry = rpcx_server_add_zookeeper_registry,
        .new_discovery = rpcx_discovery_new_zookeeper,
        .extra_checks = bad_paths,
    };
    return registry_case_run(&zk_engine);
}
