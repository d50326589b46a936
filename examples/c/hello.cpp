// The same program with the C++17 wrapper (rpcx.hpp, installed next to rpcx.h).
#include <cstdio>
#include <string>

#include <rpcx.hpp>

int main() {
    try {
        rpcx::Server server;
        server.handle("Greeter", "Hello", [](const rpcx::Request& req, rpcx::Responder resp) {
            resp.reply("hello, " + std::string(req.payload()));
        });
        auto port = server.start("tcp@127.0.0.1:0");
        auto client = rpcx::Client::connect("tcp@127.0.0.1:" + std::to_string(port));
        auto reply = client.call("Greeter", "Hello", "C++");
        std::printf("%s (librpcx %s)\n", std::string(reply.text()).c_str(), rpcx_version());
        return reply.text() == "hello, C++" ? 0 : 1;
    } catch (const rpcx::Error& e) {
        std::fprintf(stderr, "rpcx error %d: %s\n", static_cast<int>(e.code()), e.what());
        return 1;
    }
}
