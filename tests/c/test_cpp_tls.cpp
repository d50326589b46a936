// TLS and mutual TLS through the C++17 wrapper: ServerOptions::tls_pem / tls_client_ca_file,
// ClientOptions and XClientOptions with tls_ca_file / tls_client_cert_*; a missing client
// certificate, an untrusted CA and the wrong name throw rpcx::Error (RPCX_ERR_CONNECTION)
// with the TLS reason, bad PEM throws RPCX_ERR_CONFIG. Certificates: the tls_certs fixture
// (RPCX_TLS_DIR).
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <iterator>
#include <string>

#include "cpp_util.hpp"
#include "rpcx.hpp"

static std::string pki(const std::string& name) {
    const char* dir = std::getenv("RPCX_TLS_DIR");
    EXPECT(dir != nullptr && *dir != 0);
    return std::string(dir) + "/" + name;
}

static std::string slurp(const std::string& name) {
    std::ifstream in(pki(name), std::ios::binary);
    EXPECT(in.good());
    return std::string(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
}

static bool contains(const rpcx::Error& e, const char* needle) {
    return std::string(e.what()).find(needle) != std::string::npos;
}

// Options trusting the test CA (move-only: built here, then chained on by the caller).
static rpcx::ClientOptions trusted() {
    rpcx::ClientOptions o;
    o.connect_timeout(rpcx::Millis(10000)).tls_ca_file(pki("ca.pem"));
    return o;
}

int main() {
    rpcx::Server server(rpcx::ServerOptions()
                            .tls_pem(slurp("server.pem"), slurp("server.key"))
                            .tls_client_ca_file(pki("ca.pem")));
    server.handle("T", "Echo", [](const rpcx::Request& req, rpcx::Responder r) {
        r.reply(req.payload());
    });
    std::string addr = "tcp@127.0.0.1:" + std::to_string(server.start("tcp@127.0.0.1:0"));

    {
        auto client = rpcx::Client::connect(
            addr, trusted().tls_client_cert_pem(slurp("client.pem"), slurp("client.key")));
        EXPECT(client.call("T", "Echo", "hello").text() == "hello");
    }

    // Refusals, each with its reason.
    auto e = expect_throw([&] {
        auto c = rpcx::Client::connect(addr, trusted());
        c.call("T", "Echo", "x");
    });
    EXPECT(e.code() == RPCX_ERR_CONNECTION && contains(e, "CertificateRequired"));
    e = expect_throw([&] {
        rpcx::Client::connect(addr, rpcx::ClientOptions()
                                        .tls_ca_file(pki("other-ca.pem"))
                                        .tls_client_cert_file(pki("client.pem"), pki("client.key")));
    });
    EXPECT(e.code() == RPCX_ERR_CONNECTION && contains(e, "UnknownIssuer"));
    e = expect_throw([&] {
        rpcx::Client::connect(addr, trusted()
                                        .tls_client_cert_file(pki("client.pem"), pki("client.key"))
                                        .tls_server_name("wrong.example.com"));
    });
    EXPECT(e.code() == RPCX_ERR_CONNECTION && contains(e, "not valid for name"));
    // DANGER: without verification a client trusting another CA gets through.
    {
        auto client = rpcx::Client::connect(
            addr, rpcx::ClientOptions()
                      .tls_ca_file(pki("other-ca.pem"))
                      .tls_insecure(true)
                      .tls_client_cert_file(pki("client.pem"), pki("client.key")));
        EXPECT(client.call("T", "Echo", "insecure").text() == "insecure");
    }
    e = expect_throw([] { rpcx::ClientOptions().tls_ca_pem("junk"); });
    EXPECT(e.code() == RPCX_ERR_CONFIG && contains(e, "TLS CA"));
    e = expect_throw([] { rpcx::ServerOptions().tls_client_ca_file(pki("ca.pem")); });
    EXPECT(e.code() == RPCX_ERR_INVALID_STATE);

    // An XClient with the TLS settings of every server connection. Freed before the server
    // shuts down, so that its connection's tasks end while the process still runs (valgrind
    // reports what a task still holds at exit).
    {
        auto servers = rpcx::Discovery::multiple({{addr, ""}});
        rpcx::XClient xc("T", servers,
                         rpcx::XClientOptions()
                             .tls_ca_file(pki("ca.pem"))
                             .tls_client_cert_file(pki("client.pem"), pki("client.key")));
        EXPECT(xc.call("Echo", "x").text() == "x");
    }

    server.shutdown(rpcx::Millis(1000));
    std::printf("test_cpp_tls: ok\n");
    return 0;
}
