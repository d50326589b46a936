/* Helpers shared by the C tests: checks that abort the test with a clear message, a sleep,
 * waiting on an atomic counter, and a tiny growable byte buffer. */
#ifndef RPCX_TESTUTIL_H
#define RPCX_TESTUTIL_H

#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <threads.h>
#include <time.h>

#include "rpcx.h"

#define CHECK(cond)                                                                      \
    do {                                                                                 \
        if (!(cond)) {                                                                   \
            fprintf(stderr, "%s:%d: CHECK failed: %s\n", __FILE__, __LINE__, #cond);     \
            exit(1);                                                                     \
        }                                                                                \
    } while (0)

#define CHECK_STATUS(expr, want)                                                         \
    do {                                                                                 \
        rpcx_status got_ = (expr);                                                       \
        if (got_ != (want)) {                                                            \
            fprintf(stderr, "%s:%d: %s returned %d (%s), expected %d (%s)\n", __FILE__,  \
                    __LINE__, #expr, (int)got_, rpcx_status_str((int)got_), (int)(want), \
                    rpcx_status_str((int)(want)));                                       \
            exit(1);                                                                     \
        }                                                                                \
    } while (0)

#define CHECK_OK(expr) CHECK_STATUS(expr, RPCX_OK)

#define CHECK_STR(a, b)                                                                  \
    do {                                                                                 \
        const char *a_ = (a), *b_ = (b);                                                 \
        if (a_ == NULL || b_ == NULL || strcmp(a_, b_) != 0) {                           \
            fprintf(stderr, "%s:%d: \"%s\" != \"%s\"\n", __FILE__, __LINE__,             \
                    a_ ? a_ : "(null)", b_ ? b_ : "(null)");                             \
            exit(1);                                                                     \
        }                                                                                \
    } while (0)

static inline void sleep_ms(long ms) {
    struct timespec ts;
    ts.tv_sec = ms / 1000;
    ts.tv_nsec = (ms % 1000) * 1000000L;
    while (thrd_sleep(&ts, &ts) == -1) {
    }
}

static inline long now_ms(void) {
    struct timespec ts;
    timespec_get(&ts, TIME_UTC);
    return (long)ts.tv_sec * 1000L + ts.tv_nsec / 1000000L;
}

/* Waits until *v >= target; fails the test after timeout_ms. */
static inline void wait_for(atomic_int *v, int target, long timeout_ms, const char *what) {
    long end = now_ms() + timeout_ms;
    while (atomic_load(v) < target) {
        if (now_ms() > end) {
            fprintf(stderr, "timed out waiting for %s: %d < %d\n", what, atomic_load(v),
                    target);
            exit(1);
        }
        sleep_ms(1);
    }
}

/* The message of an error (or "(none)"). */
static inline const char *err_text(const rpcx_error *err) {
    const char *m = rpcx_error_message(err, NULL);
    return m ? m : "(none)";
}

/* Prints and frees an unexpected error, then fails. */
#define CHECK_CALL(expr, errp)                                                           \
    do {                                                                                 \
        rpcx_status s_ = (expr);                                                         \
        if (s_ != RPCX_OK) {                                                             \
            fprintf(stderr, "%s:%d: %s failed: %s: %s\n", __FILE__, __LINE__, #expr,     \
                    rpcx_status_str((int)s_), err_text(*(errp)));                        \
            exit(1);                                                                     \
        }                                                                                \
    } while (0)

/* Metadata value or NULL. */
static inline const char *meta_get(const rpcx_metadata *md, const char *key) {
    const char *v = NULL;
    if (rpcx_metadata_get(md, key, &v) != RPCX_OK) {
        return NULL;
    }
    return v;
}

/* Connects with the default options except a 10 s connect timeout (instead of 1 s), so
 * heavily loaded runs (valgrind, sanitizers, parallel CI) do not fail to connect. */
static inline rpcx_status test_connect(const char *addr, rpcx_client **out, rpcx_error **err) {
    rpcx_client_options *opts = rpcx_client_options_new();
    if (opts == NULL || rpcx_client_options_set_connect_timeout_ms(opts, 10000) != RPCX_OK) {
        fprintf(stderr, "cannot build client options\n");
        exit(1);
    }
    rpcx_status s = rpcx_client_connect(addr, opts, out, err);
    rpcx_client_options_free(opts);
    return s;
}

static inline rpcx_buf empty_buf(void) {
    rpcx_buf b;
    b.data = NULL;
    b.len = 0;
    b.owner = NULL;
    return b;
}

#endif
