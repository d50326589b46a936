// rpcx.h compiles on its own as strict C++17 (-pedantic -Wall -Wextra -Werror), with C linkage.
#include "rpcx.h"

int main() {
    rpcx_status s = RPCX_OK;
    rpcx_buf buf{nullptr, 0, nullptr};
    rpcx_limits limits = rpcx_limits_default();
    rpcx_buf_free(&buf);
    return (rpcx_version() != nullptr && limits.max_frame_len > 0 && s == RPCX_OK) ? 0 : 1;
}
