/* rpcx.h compiles on its own as strict C11 (-std=c11 -pedantic -Wall -Wextra -Werror). Built
 * twice, the second time with -fshort-enums: rpcx_status stays 32 bits wide either way. */
#include "rpcx.h"

_Static_assert(sizeof(rpcx_status) == 4, "rpcx_status is 32 bits wide");
_Static_assert(RPCX_VERSION_NUMBER ==
                   RPCX_VERSION_MAJOR * 10000 + RPCX_VERSION_MINOR * 100 + RPCX_VERSION_PATCH,
               "RPCX_VERSION_NUMBER");

int main(void) {
    rpcx_status s = RPCX_OK;
    rpcx_buf buf = {0, 0, 0};
    rpcx_limits limits;
    s = rpcx_limits_init(&limits, sizeof limits);
    rpcx_buf_free(&buf);
    return (rpcx_version() != 0 && limits.max_frame_len > 0 && s == RPCX_OK) ? 0 : 1;
}
