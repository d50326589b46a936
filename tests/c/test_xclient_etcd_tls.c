/* etcd over mutual TLS from C, against the real etcd with_etcd.sh starts with
 * RPCX_ETCD_TLS_DIR (https, client certificates required, the tls_certs test PKI): a C server
 * registers service "T" with rpcx_server_add_etcd_registry_tls, an XClient on
 * rpcx_discovery_new_etcd_tls finds and calls it, its graceful shutdown deletes the key; a
 * client without a certificate and one trusting another CA are refused with the TLS reason.
 * Skipped (77) without RPCX_ETCD_ENDPOINT unless RPCX_REQUIRE_ETCD=1. */
#define _POSIX_C_SOURCE 200809L
#include "tls_util.h"
#include "xclient_util.h"

static const char *BASE = "/rpcx_c_tls";

/* A discovery with `tls` must fail with a connection error whose message names `reason`. */
static void expect_refused(const char *endpoint, const rpcx_client_options *tls,
                           const char *reason) {
    const char *eps[1] = {endpoint};
    rpcx_discovery *d = NULL;
    rpcx_error *err = NULL;
    rpcx_status st = rpcx_discovery_new_etcd_tls(eps, 1, BASE, "T", tls, &d, &err);
    CHECK(st != RPCX_OK && d == NULL && err != NULL);
    const char *msg = rpcx_error_message(err, NULL);
    if (strstr(msg, reason) == NULL) {
        fprintf(stderr, "expected \"%s\" in: %s\n", reason, msg);
        exit(1);
    }
    rpcx_error_free(err);
}

int main(void) {
    const char *endpoint = getenv("RPCX_ETCD_ENDPOINT");
    const char *dir = getenv("RPCX_TLS_DIR");
    if (endpoint == NULL || *endpoint == 0 || dir == NULL || *dir == 0) {
        const char *req = getenv("RPCX_REQUIRE_ETCD");
        if (req != NULL && strcmp(req, "1") == 0) {
            fprintf(stderr, "RPCX_ETCD_ENDPOINT/RPCX_TLS_DIR not set (run through with_etcd.sh)\n");
            return 1;
        }
        fprintf(stderr, "SKIP: RPCX_ETCD_ENDPOINT or RPCX_TLS_DIR not set\n");
        return 77;
    }
    CHECK(strncmp(endpoint, "https://", 8) == 0);
    long guard = 60000;
    const char *eps[1] = {endpoint};
    rpcx_client_options *tls = tls_client_options("ca.pem", 1);

    static struct named_server a;
    ns_create(&a, "a");
    rpcx_error *err = NULL;
    CHECK_CALL(rpcx_server_add_etcd_registry_tls(a.server, eps, 1, BASE, NULL, 10000, tls, &err),
               &err);
    ns_start(&a);

    rpcx_discovery *d = NULL;
    CHECK_CALL(rpcx_discovery_new_etcd_tls(eps, 1, BASE, "T", tls, &d, &err), &err);
    rpcx_xclient_options *o = xopts(RPCX_SELECT_ROUND_ROBIN, RPCX_FAIL_FAILOVER);
    rpcx_xclient *xc = NULL;
    CHECK_CALL(rpcx_xclient_new("T", d, o, &xc, &err), &err);
    rpcx_xclient_options_free(o);
    wait_servers(xc, 1, guard);
    char who[16];
    CHECK_OK(xcall(xc, "Who", "", who, sizeof who, 1));
    CHECK_STR(who, "a");

    /* The graceful shutdown deletes the key through the TLS connection. */
    CHECK_OK(rpcx_server_shutdown(a.server, 1000));
    wait_servers(xc, 0, guard);

    /* Refusals carry the TLS reason. */
    rpcx_client_options *anonymous = tls_client_options("ca.pem", 0);
    rpcx_client_options *stranger = tls_client_options("other-ca.pem", 1);
    expect_refused(endpoint, stranger, "UnknownIssuer");
    {
        rpcx_discovery *d2 = NULL;
        rpcx_status st = rpcx_discovery_new_etcd_tls(eps, 1, BASE, "T", anonymous, &d2, &err);
        CHECK(st != RPCX_OK && d2 == NULL && err != NULL);
        const char *msg = rpcx_error_message(err, NULL);
        if (strstr(msg, "CertificateRequired") == NULL && strstr(msg, "BadCertificate") == NULL) {
            fprintf(stderr, "expected a client-certificate alert in: %s\n", msg);
            exit(1);
        }
        rpcx_error_free(err);
        err = NULL;
    }
    /* Registry connections are refused alike, and a server without TLS settings gets a clear
     * argument error. */
    static struct named_server b;
    ns_create(&b, "b");
    CHECK(rpcx_server_add_etcd_registry_tls(b.server, eps, 1, BASE, NULL, 10000, stranger, &err) !=
          RPCX_OK);
    CHECK(err != NULL && strstr(rpcx_error_message(err, NULL), "UnknownIssuer") != NULL);
    rpcx_error_free(err);
    err = NULL;
    rpcx_client_options *plain = rpcx_client_options_new();
    CHECK_STATUS(rpcx_server_add_etcd_registry_tls(b.server, eps, 1, BASE, NULL, 10000, plain, &err),
                 RPCX_ERR_INVALID_ARG);
    rpcx_error_free(err);

    rpcx_client_options_free(plain);
    rpcx_client_options_free(anonymous);
    rpcx_client_options_free(stranger);
    rpcx_client_options_free(tls);
    rpcx_xclient_free(xc);
    rpcx_discovery_free(d);
    ns_free(&a);
    ns_free(&b);
    return 0;
}
