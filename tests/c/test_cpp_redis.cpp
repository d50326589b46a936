// Redis through the C++ wrapper, against the real redis-server with_redis.sh starts
// (RPCX_REDIS_ADDR): a server registers itself with Server::redis_registry (with service
// metadata), Discovery::redis lists it, an XClient calls it, and the graceful shutdown
// deletes its key; a second registry whose Redis is unreachable does not stop the server and
// shows as rpcx_registry_up 0 in the metrics. Skipped (77) without RPCX_REDIS_ADDR.
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <string>

#include "cpp_util.hpp"
#include "rpcx.hpp"

int main() {
    const char* redis = std::getenv("RPCX_REDIS_ADDR");
    if (redis == nullptr || *redis == 0) {
        std::fprintf(stderr, "SKIP: RPCX_REDIS_ADDR not set (run through with_redis.sh)\n");
        return 77;
    }
    const std::string base = "/rpcx_cpp_redis";
    {
        rpcx::Server server;
        server.service_metadata("T", "group=blue");
        server.handle("T", "Who", [](const rpcx::Request&, rpcx::Responder r) { r.reply("cpp"); });
        server.redis_registry(redis, base, "", std::chrono::milliseconds(10000));
        server.start("tcp@127.0.0.1:0");
        rpcx::Discovery d = rpcx::Discovery::redis(redis, base, "T");
        wait_until([&] { return d.size() == 1; }, "the server in Redis");
        rpcx::XClientOptions o;
        o.group("blue");
        rpcx::XClient xc("T", d, o);
        EXPECT(xc.call("Who", std::string_view("")).text() == "cpp");
        EXPECT(xc.server_count() == 1);
        server.shutdown(std::chrono::milliseconds(1000));
        wait_until([&] { return d.size() == 0; }, "the key deleted by the shutdown");
    }
    {
        // A registry whose Redis cannot be reached is no error: the server serves and the
        // registry retries; the metrics tell the two registries apart.
        rpcx::Server server;
        server.enable_metrics();
        server.handle("T", "Who", [](const rpcx::Request&, rpcx::Responder r) { r.reply("cpp"); });
        server.redis_registry(redis, base, "", std::chrono::milliseconds(1000));
        server.redis_registry("127.0.0.1:1", base, "", std::chrono::milliseconds(1000));
        server.start("tcp@127.0.0.1:0");
        const std::string up = std::string("rpcx_registry_up{registry=\"redis\",target=\"") + redis + "\"} 1\n";
        const std::string down = "rpcx_registry_up{registry=\"redis\",target=\"127.0.0.1:1\"} 0\n";
        wait_until([&] { return server.metrics_text().find(up) != std::string::npos; },
                   "the reachable registry up");
        EXPECT(server.metrics_text().find(down) != std::string::npos);
        rpcx::Discovery d = rpcx::Discovery::redis(redis, base, "T");
        wait_until([&] { return d.size() == 1; }, "registered despite the other registry");
        rpcx::XClient xc("T", d);
        EXPECT(xc.call("Who", std::string_view("")).text() == "cpp");
        server.shutdown(std::chrono::milliseconds(1000));
    }
    // An unreachable Redis is an exception naming Redis.
    auto e = expect_throw([] { rpcx::Discovery::redis("127.0.0.1:1", "/x", "T"); });
    EXPECT(std::string(e.what()).find("redis") != std::string::npos);
    std::printf("test_cpp_redis: ok\n");
    return 0;
}
