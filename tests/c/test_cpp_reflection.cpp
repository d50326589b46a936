// The C++ wrapper of Go's reflection service: Server::enable_reflection and
// describe_method, queried with rpcx::Client (raw bytes): the described method's text, a
// lambda handler described as []byte, Go's error for an unknown service, and refusals
// (describe before enabling, enable after start).
#include <cstdio>
#include <string>

#include "cpp_util.hpp"
#include "rpcx.hpp"

static bool has(const std::string& hay, const std::string& needle) {
    if (hay.find(needle) != std::string::npos) return true;
    std::fprintf(stderr, "missing:\n%s\nin:\n%s\n", needle.c_str(), hay.c_str());
    return false;
}

int main() {
    {
        rpcx::Server server;
        try {
            server.describe_method("Hello", "Say", "string", "string");
            std::fprintf(stderr, "describe before enable_reflection was accepted\n");
            return 1;
        } catch (const rpcx::Error& e) {
            EXPECT(e.code() == RPCX_ERR_INVALID_STATE);
        }
        server.handle("Hello", "Say", [](const rpcx::Request& q, rpcx::Responder r) {
            r.reply("hello " + std::string(q.payload()));
        });
        server.handle("Hello", "Raw", [](const rpcx::Request&, rpcx::Responder r) { r.reply(""); });
        server.enable_reflection().describe_method("Hello", "Say", "string", "string",
                                                   "// Say greets the name it is given.");
        std::uint16_t port = server.start("tcp@127.0.0.1:0");
        try {
            server.enable_reflection();
            std::fprintf(stderr, "enable_reflection after start was accepted\n");
            return 1;
        } catch (const rpcx::Error& e) {
            EXPECT(e.code() == RPCX_ERR_INVALID_STATE);
        }
        rpcx::Client c = rpcx::Client::connect(
            "tcp@127.0.0.1:" + std::to_string(port),
            rpcx::ClientOptions().connect_timeout(std::chrono::milliseconds(10000)));
        std::string text(c.call("Reflection", "GetService", std::string_view("Hello")).text());
        EXPECT(text.rfind("package rpcx\n\ntype Hello struct{}\n\n", 0) == 0);
        EXPECT(has(text, "\n\n\ntype (s *Hello) Raw(ctx context.Context, arg *[]byte, reply *[]byte) "
                         "error {\n\treturn nil\n}\n"));
        EXPECT(has(text, "// Say greets the name it is given.\n\n\ntype (s *Hello) Say(ctx "
                         "context.Context, arg *string, reply *string) error {\n\treturn nil\n}\n"));
        std::string all(c.call("Reflection", "GetServices", std::string_view("")).text());
        EXPECT(has(all, "type Reflection struct{}"));
        EXPECT(has(all, text.substr(std::string("package rpcx\n\n").size())));
        try {
            c.call("Reflection", "GetService", std::string_view("Nope"));
            std::fprintf(stderr, "GetService Nope answered\n");
            return 1;
        } catch (const rpcx::Error& e) {
            EXPECT(e.is_server_error());
            EXPECT(std::string(e.what()) == "not found service Nope");
        }
    }
    std::printf("test_cpp_reflection: ok\n");
    return 0;
}
