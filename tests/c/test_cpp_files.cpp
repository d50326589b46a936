// File transfer and streams through the C++ wrapper: Server::enable_file_transfer and
// on_stream (RAII rpcx::Stream), XClient and Client send_file / download_file / stream:
// 4 MiB up and down compared byte for byte, 1,000 messages echoed, refusals as rpcx::Error.
#include <stdlib.h>
#include <sys/stat.h>

#include <atomic>
#include <fstream>
#include <iterator>
#include <stdexcept>
#include <string>

#include "cpp_util.hpp"

namespace {

std::string make_temp_dir() {
    char tmpl[] = "/tmp/rpcx-test-cpp-files-XXXXXX";
    EXPECT(mkdtemp(tmpl) != nullptr);
    return tmpl;
}

rpcx::Bytes pattern(std::size_t n, std::uint32_t seed) {
    rpcx::Bytes b(n);
    for (auto& c : b) {
        seed = seed * 1664525u + 1013904223u;
        c = std::uint8_t(seed >> 24);
    }
    return b;
}

void write_file(const std::string& path, const rpcx::Bytes& data) {
    std::ofstream f(path, std::ios::binary);
    f.write(reinterpret_cast<const char*>(data.data()), std::streamsize(data.size()));
    EXPECT(f.good());
}

rpcx::Bytes read_file(const std::string& path) {
    std::ifstream f(path, std::ios::binary);
    EXPECT(f.good());
    return rpcx::Bytes(std::istreambuf_iterator<char>(f), std::istreambuf_iterator<char>());
}

void echo_messages(rpcx::Stream s) {
    s.set_timeout(std::chrono::seconds(30));
    for (int i = 0; i < 1000; i++) {
        std::string msg = "message " + std::to_string(i) + std::string(std::size_t(i % 97), 'x');
        s.write(msg);
        auto back = s.read_exact(msg.size());
        EXPECT(std::string(back.begin(), back.end()) == msg);
    }
    s.close_write();
    EXPECT(s.read_some().empty());
}

}  // namespace

int main() {
    std::string work = make_temp_dir();
    std::string up = work + "/up", down = work + "/down";
    EXPECT(mkdir(up.c_str(), 0700) == 0 && mkdir(down.c_str(), 0700) == 0);
    std::atomic<int> streams{0};
    {
        rpcx::Server server;
        rpcx::TransferOptions opts;
        opts.max_file_size(8u << 20).token_ttl(std::chrono::seconds(30));
        EXPECT(expect_throw([&] { opts.max_concurrent(0); }).code() == RPCX_ERR_INVALID_ARG);
        server.enable_file_transfer(up, down, opts);
        server.on_stream(
            [&](rpcx::Stream s, const rpcx::Metadata& meta, const std::string& peer) {
                EXPECT(!peer.empty());
                EXPECT(meta.count("lang") == 0 || meta.at("lang") == "c++");
                s.set_timeout(std::chrono::seconds(30));
                for (;;) {
                    auto chunk = s.read_some();
                    if (chunk.empty()) break;
                    s.write(chunk);
                }
                streams++;
            },
            opts);
        server.stream_acceptor([](const rpcx::Metadata& meta, const rpcx::Metadata&,
                                  const std::string&) { return meta.count("deny") == 0; });
        server.start("tcp@127.0.0.1:0");
        EXPECT(expect_throw([&] { server.enable_file_transfer(up, ""); }).code() ==
               RPCX_ERR_INVALID_STATE);

        auto data = pattern(4u << 20, 11);
        write_file(work + "/src.bin", data);
        rpcx::XClient files("_filetransfer", rpcx::Discovery::peer(server.address()));
        EXPECT(files.send_file(work + "/src.bin", 0, {{"lang", "c++"}}) == data.size());
        EXPECT(read_file(up + "/src.bin") == data);

        auto data2 = pattern(4u << 20, 12);
        write_file(down + "/d.bin", data2);
        EXPECT(files.download_file("d.bin", work + "/got.bin") == data2.size());
        EXPECT(read_file(work + "/got.bin") == data2);
        auto e = expect_throw([&] { files.download_file("../up/src.bin", work + "/x.bin"); });
        EXPECT(e.code() == RPCX_ERR_SERVER);
        struct stat st;
        EXPECT(stat((work + "/x.bin").c_str(), &st) != 0);
        EXPECT(stat((work + "/x.bin.rpcx-part").c_str(), &st) != 0);
        EXPECT(expect_throw([&] { files.send_file(work + "/absent"); }).code() == RPCX_ERR_IO);

        rpcx::XClient xs("_streamservice", rpcx::Discovery::peer(server.address()));
        echo_messages(xs.stream({{"lang", "c++"}}));
        EXPECT(expect_throw([&] { xs.stream({{"deny", "1"}}); }).code() == RPCX_ERR_SERVER);

        auto client = rpcx::Client::connect(server.address());
        EXPECT(client.send_file("_filetransfer", work + "/got.bin") == data2.size());
        EXPECT(read_file(up + "/got.bin") == data2);
        EXPECT(client.download_file("_filetransfer", "d.bin", work + "/again.bin") == data2.size());
        echo_messages(client.stream("_streamservice"));
        EXPECT(expect_throw([&] { client.stream("nosuch"); }).code() == RPCX_ERR_SERVER);
        wait_until([&] { return streams.load() == 2; }, "stream handlers");

        rpcx::Stream moved;
        EXPECT(!moved);
        server.shutdown(std::chrono::seconds(1));
    }
    {
        // Handlers instead of directories: an upload collected in memory, a generated download,
        // and both aborted (false, an exception).
        std::atomic<int> uploads{0};
        rpcx::Bytes received;
        rpcx::Server server;
        server.file_callbacks(
            [&](rpcx::Upload& up, const std::string& name, std::uint64_t size,
                const rpcx::Metadata& meta, const std::string&) {
                if (meta.count("abort")) {
                    up.read_some();
                    uploads++;
                    throw std::runtime_error("refused");
                }
                rpcx::Bytes all;
                for (auto chunk = up.read_some(); !chunk.empty(); chunk = up.read_some()) {
                    all.insert(all.end(), chunk.begin(), chunk.end());
                }
                EXPECT(all.size() == size && name == "cb.bin");
                received = std::move(all);
                uploads++;
                return true;
            },
            [](rpcx::Download& d, const std::string& name, const rpcx::Metadata&,
               const std::string&) {
                if (name != "hello") return false;
                for (int i = 0; i < 1000; i++) d.write("hello, world\n");
                return true;
            });
        server.start("tcp@127.0.0.1:0");
        rpcx::XClient files("_filetransfer", rpcx::Discovery::peer(server.address()));
        auto data = pattern(3u << 20, 21);
        write_file(work + "/cb.bin", data);
        EXPECT(files.send_file(work + "/cb.bin") == data.size());
        wait_until([&] { return uploads.load() == 1; }, "the upload handler");
        EXPECT(received == data);
        expect_throw([&] { files.send_file(work + "/cb.bin", 0, {{"abort", "1"}}); });
        wait_until([&] { return uploads.load() == 2; }, "the aborting upload handler");
        EXPECT(files.download_file("hello", work + "/hello.txt") == 13000);
        auto text = read_file(work + "/hello.txt");
        EXPECT(text.size() == 13000 && std::string(text.begin(), text.begin() + 13) == "hello, world\n");
        expect_throw([&] { files.download_file("other", work + "/other.txt"); });
        struct stat st;
        EXPECT(stat((work + "/other.txt").c_str(), &st) != 0);
        server.shutdown(std::chrono::seconds(1));
    }
    EXPECT(std::system(("rm -rf '" + work + "'").c_str()) == 0);
    std::printf("test_cpp_files: ok\n");
    return 0;
}
