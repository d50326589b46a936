// rpcx.h compiles on its own as strict C++17 (-pedantic -Wall -Wextra -Werror), with C linkage.
// Built twice, the second time with -fshort-enums: rpcx_status stays 32 bits wide either way.
#include "rpcx.h"

static_assert(sizeof(rpcx_status) == 4, "rpcx_status is 32 bits wide");

int main() {
    rpcx_status s = RPCX_OK;
    rpcx_buf buf{nullptr, 0, nullptr};
    rpcx_limits limits{};
    s = rpcx_limits_init(&limits, sizeof limits);
    rpcx_buf_free(&buf);
    return (rpcx_version() != nullptr && limits.max_frame_len > 0 && s == RPCX_OK) ? 0 : 1;
}
