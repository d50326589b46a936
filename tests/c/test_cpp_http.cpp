// HTTP on the rpcx port through rpcx.hpp: ServerOptions' HTTP switches, limits and CORS reach
// the server (a JSON-RPC call and a CORS preflight answered, the gateway off), a server started
// at a ws@ address is called through the WebSocket and CONNECT tunnels, and bad values throw
// rpcx::Error.
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <string>

#include "cpp_util.hpp"

namespace {

// Sends one HTTP request to 127.0.0.1:port and returns everything the server sends until it
// closes (every request below says Connection: close); each read waits at most 30 s.
std::string http(std::uint16_t port, const std::string& request) {
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    EXPECT(fd >= 0);
    timeval tv{30, 0};
    EXPECT(setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv) == 0);
    sockaddr_in sa{};
    sa.sin_family = AF_INET;
    sa.sin_port = htons(port);
    sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    EXPECT(connect(fd, reinterpret_cast<sockaddr*>(&sa), sizeof sa) == 0);
    EXPECT(send(fd, request.data(), request.size(), MSG_NOSIGNAL) == ssize_t(request.size()));
    std::string out;
    char buf[4096];
    for (;;) {
        ssize_t n = recv(fd, buf, sizeof buf, 0);
        if (n > 0) {
            out.append(buf, std::size_t(n));
        } else if (n == 0 || errno == ECONNRESET) {
            break;
        } else {
            EXPECT(errno == EINTR);  // EAGAIN: no answer within 30 s
        }
    }
    close(fd);
    return out;
}

std::string post(std::uint16_t port, const std::string& headers, const std::string& body) {
    return http(port, "POST / HTTP/1.1\r\nHost: t\r\nConnection: close\r\n" + headers +
                          "Content-Length: " + std::to_string(body.size()) + "\r\n\r\n" + body);
}

bool has(const std::string& text, const std::string& part) {
    return text.find(part) != std::string::npos;
}

void serve_mul(rpcx::Server& server) {
    server.handle("Arith", "Mul", [](const rpcx::Request& req, rpcx::Responder resp) {
        long long a = 0, b = 0;
        std::string args(req.payload());
        if (std::sscanf(args.c_str(), " { \"A\" : %lld , \"B\" : %lld }", &a, &b) != 2) {
            throw std::runtime_error("expected {\"A\":int,\"B\":int}");
        }
        resp.reply("{\"C\":" + std::to_string(a * b) + "}");
    });
}

const char* const kMulHeaders =
    "X-RPCX-SerializeType: 1\r\nX-RPCX-ServicePath: Arith\r\nX-RPCX-ServiceMethod: Mul\r\n";

rpcx::ClientOptions client_options() {
    rpcx::ClientOptions copts;
    copts.connect_timeout(rpcx::Millis(10000));
    return copts;
}

// The default options: the gateway and JSON-RPC answer on the rpcx port.
void defaults_serve_gateway_and_jsonrpc() {
    rpcx::Server server;
    serve_mul(server);
    std::uint16_t port = server.start("tcp@127.0.0.1:0");
    std::string gw = post(port, kMulHeaders, R"({"A":3,"B":5})");
    EXPECT(has(gw, "HTTP/1.1 200") && has(gw, "\r\n\r\n{\"C\":15}"));
    std::string rpc = post(port, "X-JSONRPC-2.0: true\r\n",
                           R"({"jsonrpc":"2.0","method":"Arith.Mul","params":{"A":4,"B":5},"id":1})");
    EXPECT(has(rpc, R"({"jsonrpc":"2.0","result":{"C":20},"id":1})"));
    server.shutdown(rpcx::Millis(1000));
}

// Every HTTP setter, a server at a ws@ address called through both tunnels, CORS lists and
// the header-count limit.
void options_tunnels_and_cors() {
    rpcx::Cors cors;
    cors.allowed_origins = {"https://*.example.com"};
    cors.allowed_methods = {"POST"};
    cors.exposed_headers = {"X-RPCX-Meta"};
    cors.allow_credentials = true;
    cors.max_age_secs = 120;
    rpcx::ServerOptions opts;
    opts.http_gateway(false)
        .jsonrpc(true)
        .http_connect(true)
        .websocket(true)
        .http_request_timeout(rpcx::Millis(10000))
        .http_max_header_bytes(16 << 10)
        .http_max_headers(20)
        .cors(cors);
    rpcx::Server server(opts);
    serve_mul(server);
    std::uint16_t port = server.start("ws@127.0.0.1:0");
    EXPECT(server.address() == "ws@127.0.0.1:" + std::to_string(port));

    // rpcx through the WebSocket (the reported address) and through CONNECT.
    for (const std::string& addr :
         {server.address(), "http@127.0.0.1:" + std::to_string(port)}) {
        auto client = rpcx::Client::connect(addr, client_options());
        rpcx::Response r = client.call("Arith", "Mul", "{\"A\":6,\"B\":7}");
        EXPECT(r.text() == "{\"C\":42}");
        std::printf("%s ok\n", addr.c_str());
    }

    // JSON-RPC on, the gateway off.
    std::string rpc = post(port, "X-JSONRPC-2.0: true\r\n",
                           R"({"jsonrpc":"2.0","method":"Arith.Mul","params":{"A":3,"B":5},"id":7})");
    EXPECT(has(rpc, "HTTP/1.1 200") && has(rpc, R"({"jsonrpc":"2.0","result":{"C":15},"id":7})"));
    EXPECT(has(post(port, kMulHeaders, R"({"A":3,"B":5})"), "HTTP/1.1 404"));

    // The CORS lists: an allowed origin gets its answer, another origin none.
    auto preflight = [&](const std::string& origin) {
        return http(port, "OPTIONS / HTTP/1.1\r\nHost: t\r\nConnection: close\r\nOrigin: " +
                              origin + "\r\nAccess-Control-Request-Method: POST\r\n\r\n");
    };
    std::string ok = preflight("https://app.example.com");
    EXPECT(has(ok, "HTTP/1.1 204"));
    EXPECT(has(ok, "Access-Control-Allow-Origin: https://app.example.com\r\n"));
    EXPECT(has(ok, "Access-Control-Allow-Credentials: true\r\n"));
    EXPECT(has(ok, "Access-Control-Max-Age: 120\r\n"));
    EXPECT(!has(preflight("https://elsewhere.test"), "Access-Control-Allow-Origin"));

    // More headers than http_max_headers: refused (431, possibly cut by a reset) and closed.
    std::string many;
    for (int i = 0; i < 30; i++) many += "X-Filler-" + std::to_string(i) + ": v\r\n";
    std::string refused = post(port, "X-JSONRPC-2.0: true\r\n" + many, "{}");
    EXPECT(refused.empty() || refused.rfind("HTTP/1.1 431", 0) == 0);
    server.shutdown(rpcx::Millis(1000));
}

// Everything off (CORS set, then cleared): HTTP is closed unanswered, the tunnels are refused,
// plain rpcx still works.
void switched_off() {
    rpcx::ServerOptions off;
    off.http_gateway(false).jsonrpc(false).http_connect(false).websocket(false);
    off.cors_allow_all().no_cors();
    rpcx::Server closed(off);
    serve_mul(closed);
    std::uint16_t port = closed.start("tcp@127.0.0.1:0");
    for (const char* network : {"ws@", "http@"}) {
        auto refused = expect_throw([&] {
            rpcx::Client::connect(network + std::string("127.0.0.1:") + std::to_string(port),
                                  client_options());
        });
        EXPECT(refused.code() != RPCX_OK);
    }
    EXPECT(post(port, "X-JSONRPC-2.0: true\r\n", "{}").empty());
    EXPECT(post(port, kMulHeaders, R"({"A":3,"B":5})").empty());
    auto plain = rpcx::Client::connect(closed.address(), client_options());
    EXPECT(plain.call("Arith", "Mul", "{\"A\":2,\"B\":2}").text() == "{\"C\":4}");
}

// Bad values throw rpcx::Error with the C status (and, for CORS, the entry).
void bad_values() {
    EXPECT(expect_throw([] { rpcx::ServerOptions().http_max_headers(0); }).code() ==
           RPCX_ERR_INVALID_ARG);
    EXPECT(expect_throw([] { rpcx::ServerOptions().http_max_header_bytes(0); }).code() ==
           RPCX_ERR_INVALID_ARG);
    EXPECT(expect_throw([] { rpcx::ServerOptions().http_request_timeout(rpcx::Millis(0)); })
               .code() == RPCX_ERR_INVALID_ARG);
    rpcx::Cors bad;
    bad.allowed_headers = {"Content Type"};
    auto e = expect_throw([&] { rpcx::ServerOptions().cors(bad); });
    EXPECT(e.code() == RPCX_ERR_INVALID_ARG && has(e.what(), "Content Type"));
}

}  // namespace

int main() {
    defaults_serve_gateway_and_jsonrpc();
    options_tunnels_and_cors();
    switched_off();
    bad_values();
    std::printf("test_cpp_http: all passed\n");
    return 0;
}
