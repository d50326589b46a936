// Consul through the C++ wrapper, against the fake agent with_consul.sh starts
// (RPCX_CONSUL_ADDR): a server registers itself with Server::consul_registry (with service
// metadata), Discovery::consul lists it, an XClient calls it, and the graceful shutdown
// deletes its key. Skipped (77) without RPCX_CONSUL_ADDR.
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <string>

#include "cpp_util.hpp"
#include "rpcx.hpp"

int main() {
    const char* agent = std::getenv("RPCX_CONSUL_ADDR");
    if (agent == nullptr || *agent == 0) {
        std::fprintf(stderr, "SKIP: RPCX_CONSUL_ADDR not set (run through with_consul.sh)\n");
        return 77;
    }
    const std::string base = "/rpcx_cpp_consul";
    {
        rpcx::Server server;
        server.service_metadata("T", "group=blue");
        server.handle("T", "Who", [](const rpcx::Request&, rpcx::Responder r) { r.reply("cpp"); });
        server.consul_registry(agent, base, "", std::chrono::milliseconds(10000));
        server.start("tcp@127.0.0.1:0");
        rpcx::Discovery d = rpcx::Discovery::consul(agent, base, "T");
        wait_until([&] { return d.size() == 1; }, "the server in Consul");
        rpcx::XClientOptions o;
        o.group("blue");
        rpcx::XClient xc("T", d, o);
        EXPECT(xc.call("Who", std::string_view("")).text() == "cpp");
        EXPECT(xc.server_count() == 1);
        server.shutdown(std::chrono::milliseconds(1000));
        wait_until([&] { return d.size() == 0; }, "the key deleted by the shutdown");
    }
    // An unreachable agent is an exception naming Consul.
    auto e = expect_throw([] { rpcx::Discovery::consul("127.0.0.1:1", "/x", "T"); });
    EXPECT(std::string(e.what()).find("consul") != std::string::npos);
    std::printf("test_cpp_consul: ok\n");
    return 0;
}
