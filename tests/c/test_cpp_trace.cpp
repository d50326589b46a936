// The C++ wrapper's W3C trace context: a client starts a trace (rpcx::new_traceparent),
// sends it with rpcx::set_traceparent, and the server handler reads it back with
// Request::traceparent(); a child keeps the trace; malformed values throw
// Error(RPCX_ERR_INVALID_ARG) and leave the map unchanged.
#include <cstdio>
#include <string>

#include "cpp_util.hpp"
#include "rpcx.hpp"

using namespace std::chrono_literals;

static void test_round_trip() {
    rpcx::Server server;
    server.handle("Trace", "Seen", [](const rpcx::Request& req, rpcx::Responder resp) {
        std::string text;
        try {
            auto tc = req.traceparent();
            text = tc ? tc->traceparent + "|" + tc->tracestate.value_or("(none)") : "none";
        } catch (const rpcx::Error& e) {
            text = std::string("error ") + rpcx_status_str(e.code());
        }
        resp.reply(text);
    });
    auto port = server.start("tcp@127.0.0.1:0");
    auto client = rpcx::Client::connect("tcp@127.0.0.1:" + std::to_string(port),
                                        rpcx::ClientOptions().connect_timeout(10s));

    std::string tp = rpcx::new_traceparent();
    EXPECT(rpcx::is_valid_traceparent(tp));
    auto parts = rpcx::parse_traceparent(tp);
    EXPECT(parts.trace_id == tp.substr(3, 32));
    EXPECT(parts.parent_id == tp.substr(36, 16));
    EXPECT(parts.flags == 1);

    rpcx::Metadata md;
    rpcx::set_traceparent(md, tp, std::string("vendor=cpp"));
    EXPECT(std::string(client.call("Trace", "Seen", "", md, 10s).text()) == tp + "|vendor=cpp");

    std::string child = rpcx::child_traceparent(tp);
    EXPECT(child.substr(0, 35) == tp.substr(0, 35) && child != tp);
    rpcx::Metadata md2;
    rpcx::set_traceparent(md2, child);
    EXPECT(std::string(client.call("Trace", "Seen", "", md2, 10s).text()) == child + "|(none)");

    EXPECT(std::string(client.call("Trace", "Seen", "", {}, 10s).text()) == "none");
    EXPECT(std::string(client.call("Trace", "Seen", "", {{"traceparent", "00-junk"}}, 10s).text()) ==
           std::string("error ") + rpcx_status_str(RPCX_ERR_INVALID_ARG));
}

static void test_bad_input() {
    EXPECT(!rpcx::is_valid_traceparent("00-00000000000000000000000000000000-00f067aa0ba902b7-01"));
    rpcx::Metadata md{{"k", "v"}};
    bool threw = false;
    try {
        rpcx::set_traceparent(md, "junk");
    } catch (const rpcx::Error& e) {
        threw = e.code() == RPCX_ERR_INVALID_ARG;
    }
    EXPECT(threw);
    EXPECT(md.size() == 1);
    threw = false;
    try {
        rpcx::child_traceparent("junk");
    } catch (const rpcx::Error& e) {
        threw = e.code() == RPCX_ERR_INVALID_ARG;
    }
    EXPECT(threw);
}

int main() {
    test_bad_input();
    test_round_trip();
    std::printf("test_cpp_trace: ok\n");
    return 0;
}
