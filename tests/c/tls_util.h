/* Helpers of the TLS tests: the test PKI written by the tls_certs example into the directory
 * named by RPCX_TLS_DIR (the tls_certs CTest fixture), client options with TLS settings, and
 * a check that connecting (or, when a mutual-TLS server refuses after the client finished
 * its TLS 1.3 handshake, the first call) fails with a given text. */
#ifndef RPCX_TLS_UTIL_H
#define RPCX_TLS_UTIL_H

#include <stdint.h>

#include "testutil.h"

/* The path of `name` (e.g. "server.pem") in the PKI directory, in a static buffer of 8. */
static inline const char *pki(const char *name) {
    static char paths[8][512];
    static int next;
    const char *dir = getenv("RPCX_TLS_DIR");
    if (dir == NULL || *dir == 0) {
        fprintf(stderr, "RPCX_TLS_DIR is not set (the tls_certs fixture writes the PKI)\n");
        exit(1);
    }
    char *p = paths[next++ % 8];
    snprintf(p, 512, "%s/%s", dir, name);
    return p;
}

/* The whole file `name` of the PKI directory (malloc'd, *len set); fails the test if absent. */
static inline uint8_t *pki_read(const char *name, size_t *len) {
    FILE *f = fopen(pki(name), "rb");
    if (f == NULL) {
        fprintf(stderr, "cannot open %s\n", pki(name));
        exit(1);
    }
    CHECK(fseek(f, 0, SEEK_END) == 0);
    long n = ftell(f);
    CHECK(n > 0);
    CHECK(fseek(f, 0, SEEK_SET) == 0);
    uint8_t *buf = malloc((size_t)n);
    CHECK(buf != NULL);
    CHECK(fread(buf, 1, (size_t)n, f) == (size_t)n);
    fclose(f);
    *len = (size_t)n;
    return buf;
}

/* Client options with a 10 s connect timeout, a 30 s call timeout and TLS trusting `ca`
 * (a PKI file name), presenting the client certificate when `with_cert`. */
static inline rpcx_client_options *tls_client_options(const char *ca, int with_cert) {
    rpcx_client_options *opts = rpcx_client_options_new();
    CHECK(opts != NULL);
    CHECK_OK(rpcx_client_options_set_connect_timeout_ms(opts, 10000));
    CHECK_OK(rpcx_client_options_set_timeout_ms(opts, 30000));
    rpcx_error *err = NULL;
    CHECK_CALL(rpcx_client_options_set_tls_ca_file(opts, pki(ca), &err), &err);
    if (with_cert) {
        CHECK_CALL(rpcx_client_options_set_tls_client_cert_file(opts, pki("client.pem"),
                                                                 pki("client.key"), &err),
                   &err);
    }
    return opts;
}

/* Connects to `addr` with `opts` and calls `service.method` with `args`; expects a failure
 * with status `want` whose message contains `needle`. */
static inline void expect_tls_failure(const char *addr, const rpcx_client_options *opts,
                                      const char *service, const char *method, const char *args,
                                      rpcx_status want, const char *needle) {
    rpcx_client *c = NULL;
    rpcx_error *err = NULL;
    rpcx_status s = rpcx_client_connect(addr, opts, &c, &err);
    if (s == RPCX_OK) {
        s = rpcx_client_call(c, service, method, (const uint8_t *)args, strlen(args), NULL, 0,
                             NULL, NULL, &err);
        rpcx_client_free(c);
    }
    if (s != want || err == NULL || strstr(err_text(err), needle) == NULL) {
        fprintf(stderr, "expected %s containing \"%s\", got %s: %s\n", rpcx_status_str(want),
                needle, rpcx_status_str(s), err ? err_text(err) : "(no error)");
        exit(1);
    }
    printf("  refused as expected: %s\n", err_text(err));
    rpcx_error_free(err);
}

#endif
