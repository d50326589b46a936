// The C++ wrapper's compressors: a run-length rpcx::Compressor registered with lambdas and
// used by a C++ client and server both ways, snappy through ClientOptions::compress, the
// decompressed-size limit on a too-large result, an exception's what() in the error reply,
// refusals of built-in and unknown types, and the compressor destroyed on unregistration.
#include <atomic>
#include <cstdio>
#include <memory>
#include <stdexcept>
#include <string>

#include "cpp_util.hpp"
#include "rpcx.hpp"

static std::atomic<int> compresses{0}, decompresses{0}, destroyed{0};

// Counts its own destruction: the registry owns the lambdas holding it.
struct Sentinel {
    ~Sentinel() { destroyed++; }
};

static rpcx::Compressor rle() {
    auto s = std::make_shared<Sentinel>();
    rpcx::Compressor c;
    c.compress = [s](const std::uint8_t* in, std::size_t len) {
        compresses++;
        rpcx::Bytes out;
        for (std::size_t i = 0; i < len;) {
            std::size_t n = 1;
            while (n < 255 && i + n < len && in[i + n] == in[i]) n++;
            out.push_back(static_cast<std::uint8_t>(n));
            out.push_back(in[i]);
            i += n;
        }
        return out;
    };
    c.decompress = [s](const std::uint8_t* in, std::size_t len, std::size_t max) {
        decompresses++;
        if (len % 2) throw std::runtime_error("odd RLE length");
        rpcx::Bytes out;
        for (std::size_t i = 0; i < len; i += 2) {
            if (out.size() + in[i] > max) return rpcx::Bytes(max + 1);  // refused: over the limit
            out.insert(out.end(), in[i], in[i + 1]);
        }
        return out;
    };
    return c;
}

int main() {
    EXPECT(rpcx::compressor_available(rpcx::compress_type::snappy));
    EXPECT(!rpcx::compressor_available(5));
    rpcx::register_compressor(5, rle());
    EXPECT(rpcx::compressor_available(5));
    auto e = expect_throw([] { rpcx::register_compressor(rpcx::compress_type::gzip, rle()); });
    EXPECT(e.code() == RPCX_ERR_INVALID_ARG);
    e = expect_throw([] { rpcx::register_compressor(4, rpcx::Compressor{}); });
    EXPECT(e.code() == RPCX_ERR_NULL_ARG);
    EXPECT(destroyed == 1);  // the refused gzip registration's compressor

    rpcx::Limits limits;
    limits.max_decompressed_len = 32 << 10;
    rpcx::Server server(rpcx::ServerOptions().limits(limits));
    server.handle("Echo", "Echo", [](const rpcx::Request& req, rpcx::Responder resp) {
        resp.reply(req.payload());
    });
    auto port = server.start("tcp@127.0.0.1:0");
    std::string addr = "tcp@127.0.0.1:" + std::to_string(port);

    std::string big(8 << 10, 'a');
    for (std::size_t i = 0; i < big.size(); i++) big[i] = static_cast<char>('a' + i / 64 % 4);
    {
        auto c = rpcx::Client::connect(addr, rpcx::ClientOptions().connect_timeout(rpcx::Millis(10000)).compress(5));
        EXPECT(c.call("Echo", "Echo", big).text() == big);
        EXPECT(compresses == 2 && decompresses == 2);  // request and reply
        EXPECT(c.call("Echo", "Echo", "small").text() == "small");
        EXPECT(compresses == 2);
        std::string over(33 << 10, 'z');
        e = expect_throw([&] { c.call("Echo", "Echo", over); });
        EXPECT(e.is_server_error());
        EXPECT(std::string(e.what()).find("decompressed size exceeds") != std::string::npos);
    }
    {
        // A decompressor that throws (at 6, with a zero threshold so "hi" is compressed): its
        // what() comes back in the server's error reply.
        rpcx::Compressor failing = rle();
        failing.decompress = [](const std::uint8_t*, std::size_t, std::size_t) -> rpcx::Bytes {
            throw std::runtime_error("refused by test");
        };
        rpcx::register_compressor(6, std::move(failing));
        auto c = rpcx::Client::connect(addr, rpcx::ClientOptions().connect_timeout(rpcx::Millis(10000)).compress(6, 0));
        e = expect_throw([&] { c.call("Echo", "Echo", "hi"); });
        EXPECT(std::string(e.what()).find("compressor 6 failed: refused by test") != std::string::npos);
        rpcx::unregister_compressor(6);
    }
    {
        auto c = rpcx::Client::connect(
            addr, rpcx::ClientOptions().connect_timeout(rpcx::Millis(10000)).compress(rpcx::compress_type::snappy, 0));
        EXPECT(c.call("Echo", "Echo", big).text() == big);
        EXPECT(c.call("Echo", "Echo", "").text().empty());
    }
    e = expect_throw([&] { rpcx::Client::connect(addr, rpcx::ClientOptions().compress(7)); });
    EXPECT(e.code() == RPCX_ERR_CONFIG);
    int before = destroyed;
    rpcx::unregister_compressor(5);
    EXPECT(destroyed == before + 1);
    e = expect_throw([] { rpcx::unregister_compressor(5); });
    EXPECT(e.code() == RPCX_ERR_NOT_FOUND);
    std::puts("test_cpp_compress: ok");
    return 0;
}
