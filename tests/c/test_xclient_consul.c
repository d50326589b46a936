/* Registration in Consul and discovery from Consul, all through the C API, against the fake
 * agent with_consul.sh starts (RPCX_CONSUL_ADDR; tests/python/fake_consul.py speaks Consul's
 * KV and session API): the scenario of registry_case.h (two servers in Go's rpcx-consul
 * layout under a base path with a leading '/', XClients with and without a group, a graceful
 * shutdown followed, live register/unregister, bad arguments and an unreachable agent).
 * Skipped (77) without RPCX_CONSUL_ADDR. */
#define _POSIX_C_SOURCE 200809L
#include "registry_case.h"

int main(void) {
    const char *agent = registry_case_store("RPCX_CONSUL_ADDR", "with_consul.sh");
    if (agent == NULL) {
        return 77;
    }
    const struct registry_engine consul_engine = {
        .name = "consul",
        .store = agent,
        .base = "/rpcx_c_consul",
        .add_registry = rpcx_server_add_consul_registry,
        .new_discovery = rpcx_discovery_new_consul,
        .extra_checks = NULL,
    };
    return registry_case_run(&consul_engine);
}
