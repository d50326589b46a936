/* rpcx.h compiles on its own as strict C11 (-std=c11 -pedantic -Wall -Wextra -Werror). */
#include "rpcx.h"

int main(void) {
    rpcx_status s = RPCX_OK;
    rpcx_buf buf = {0, 0, 0};
    rpcx_limits limits = rpcx_limits_default();
    rpcx_buf_free(&buf);
    return (rpcx_version() != 0 && limits.max_frame_len > 0 && s == RPCX_OK) ? 0 : 1;
}
