/* Registration in Redis and discovery from Redis, all through the C API, against the real
 * redis-server with_redis.sh starts (RPCX_REDIS_ADDR): the scenario of registry_case.h (two
 * servers in Go's RedisRegisterPlugin layout, XClients with and without a group, a graceful
 * shutdown followed, live register/unregister, bad arguments and an unreachable Redis).
 * Skipped (77) without RPCX_REDIS_ADDR. */
#define _POSIX_C_SOURCE 200809L
#include "registry_case.h"

int main(void) {
    const char *redis = registry_case_store("RPCX_REDIS_ADDR", "with_redis.sh");
    if (redis == NULL) {
        return 77;
    }
    const struct registry_engine redis_engine = {
        .name = "redis",
        .store = redis,
        .base = "rpcx_c_redis",
        .add_registry = rpcx_server_add_redis_registry,
        .new_discovery = rpcx_discovery_new_redis,
        .extra_checks = NULL,
    };
    return registry_case_run(&redis_engine);
}
