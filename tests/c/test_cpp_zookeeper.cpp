// ZooKeeper through the C++ wrapper, against the real ZooKeeper with_zookeeper.sh starts
// (RPCX_ZOOKEEPER_ADDR): a server registers itself with Server::zookeeper_registry (with service
// metadata), Discovery::zookeeper lists it, an XClient calls it, and the graceful shutdown
// deletes its node. Skipped (77) without RPCX_ZOOKEEPER_ADDR.
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <string>

#include "cpp_util.hpp"
#include "rpcx.hpp"

int main() {
    const char* zk = std::getenv("RPCX_ZOOKEEPER_ADDR");
    if (zk == nullptr || *zk == 0) {
        std::fprintf(stderr, "SKIP: RPCX_ZOOKEEPER_ADDR not set (run through with_zookeeper.sh)\n");
        return 77;
    }
    const std::string base = "/rpcx_cpp_zk";
    {
        rpcx::Server server;
        server.service_metadata("T", "group=blue");
        server.handle("T", "Who", [](const rpcx::Request&, rpcx::Responder r) { r.reply("cpp"); });
        server.zookeeper_registry(zk, base, "", std::chrono::milliseconds(10000));
        server.start("tcp@127.0.0.1:0");
        rpcx::Discovery d = rpcx::Discovery::zookeeper(zk, base, "T");
        wait_until([&] { return d.size() == 1; }, "the server in ZooKeeper");
        rpcx::XClientOptions o;
        o.group("blue");
        rpcx::XClient xc("T", d, o);
        EXPECT(xc.call("Who", std::string_view("")).text() == "cpp");
        EXPECT(xc.server_count() == 1);
        server.shutdown(std::chrono::milliseconds(1000));
        wait_until([&] { return d.size() == 0; }, "the node deleted by the shutdown");
    }
    // An unreachable ZooKeeper is an exception naming ZooKeeper.
    auto e = expect_throw([] { rpcx::Discovery::zookeeper("127.0.0.1:1", "/x", "T"); });
    EXPECT(std::string(e.what()).find("zookeeper") != std::string::npos);
    std::printf("test_cpp_zookeeper: ok\n");
    return 0;
}
