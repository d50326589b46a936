// Helpers of the C++ tests: EXPECT (fails the test with the file, line and condition),
// expect_throw (runs f, which must throw an rpcx::Error, and returns that error) and
// wait_until (polls a condition for at most 30 s).
#ifndef RPCX_CPP_UTIL_HPP
#define RPCX_CPP_UTIL_HPP

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <thread>

#include "rpcx.hpp"

#define EXPECT(cond)                                                                       \
    do {                                                                                   \
        if (!(cond)) {                                                                     \
            std::fprintf(stderr, "%s:%d: EXPECT failed: %s\n", __FILE__, __LINE__, #cond); \
            std::exit(1);                                                                  \
        }                                                                                  \
    } while (0)

template <class F>
static rpcx::Error expect_throw(F&& f) {
    try {
        f();
    } catch (const rpcx::Error& e) {
        std::printf("  threw as expected: %s\n", e.what());
        return e;
    }
    std::fprintf(stderr, "expected an rpcx::Error\n");
    std::exit(1);
}

// Waits (bounded: 30 s, then the test fails naming `what`) until pred() holds.
template <class P>
static void wait_until(P pred, const char* what) {
    auto end = std::chrono::steady_clock::now() + std::chrono::seconds(30);
    while (!pred()) {
        if (std::chrono::steady_clock::now() > end) {
            std::fprintf(stderr, "timed out waiting for %s\n", what);
            std::exit(1);
        }
        std::this_thread::sleep_for(std::chrono::milliseconds(1));
    }
}

#endif
