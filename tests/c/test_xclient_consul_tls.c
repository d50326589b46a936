/* Consul over mutual TLS from C, against the fake agent with_consul.sh starts with
 * RPCX_CONSUL_TLS_DIR (HTTPS, client certificates required, the tls_certs test PKI): a C
 * server registers service "T" with rpcx_server_add_consul_registry_tls, an XClient on
 * rpcx_discovery_new_consul_tls finds and calls it, its graceful shutdown deletes the key; a
 * client trusting another CA is refused with the TLS reason, and TLS settings for an
 * http:// address are refused. Skipped (77) without RPCX_CONSUL_ADDR / RPCX_TLS_DIR. */
#define _POSIX_C_SOURCE 200809L
#include "tls_util.h"
#include "xclient_util.h"

static const char *BASE = "/rpcx_c_consul_tls";

int main(void) {
    const char *agent = getenv("RPCX_CONSUL_ADDR");
    const char *dir = getenv("RPCX_TLS_DIR");
    if (agent == NULL || *agent == 0 || dir == NULL || *dir == 0) {
        fprintf(stderr, "SKIP: RPCX_CONSUL_ADDR or RPCX_TLS_DIR not set\n");
        return 77;
    }
    long guard = 60000;
    rpcx_client_options *tls = tls_client_options("ca.pem", 1);

    static struct named_server a;
    ns_create(&a, "a");
    rpcx_error *err = NULL;
    CHECK_CALL(rpcx_server_add_consul_registry_tls(a.server, agent, BASE, NULL, 10000, tls, &err),
               &err);
    ns_start(&a);

    rpcx_discovery *d = NULL;
    CHECK_CALL(rpcx_discovery_new_consul_tls(agent, BASE, "T", tls, &d, &err), &err);
    rpcx_xclient_options *o = xopts(RPCX_SELECT_ROUND_ROBIN, RPCX_FAIL_FAILOVER);
    rpcx_xclient *xc = NULL;
    CHECK_CALL(rpcx_xclient_new("T", d, o, &xc, &err), &err);
    rpcx_xclient_options_free(o);
    wait_servers(xc, 1, guard);
    char who[16];
    CHECK_OK(xcall(xc, "Who", "", who, sizeof who, 1));
    CHECK_STR(who, "a");

    /* The graceful shutdown deletes the key over HTTPS. */
    CHECK_OK(rpcx_server_shutdown(a.server, 1000));
    wait_servers(xc, 0, guard);

    /* Another CA: refused with rustls' reason, for the discovery and the registry alike. */
    rpcx_client_options *stranger = tls_client_options("other-ca.pem", 1);
    rpcx_discovery *none = NULL;
    CHECK(rpcx_discovery_new_consul_tls(agent, BASE, "T", stranger, &none, &err) != RPCX_OK);
    CHECK(none == NULL && err != NULL);
    CHECK(strstr(rpcx_error_message(err, NULL), "UnknownIssuer") != NULL);
    rpcx_error_free(err);
    err = NULL;
    static struct named_server b;
    ns_create(&b, "b");
    CHECK(rpcx_server_add_consul_registry_tls(b.server, agent, BASE, NULL, 10000, stranger,
                                              &err) != RPCX_OK);
    CHECK(err != NULL && strstr(rpcx_error_message(err, NULL), "UnknownIssuer") != NULL);
    rpcx_error_free(err);
    err = NULL;
    /* TLS settings with a plain http:// address are a configuration error, not a downgrade. */
    char plain[128];
    snprintf(plain, sizeof plain, "http://%s", agent);
    CHECK(rpcx_discovery_new_consul_tls(plain, BASE, "T", tls, &none, &err) != RPCX_OK);
    CHECK(err != NULL && strstr(rpcx_error_message(err, NULL), "http://") != NULL);
    rpcx_error_free(err);

    rpcx_client_options_free(stranger);
    rpcx_client_options_free(tls);
    rpcx_xclient_free(xc);
    rpcx_discovery_free(d);
    ns_free(&a);
    ns_free(&b);
    printf("test_xclient_consul_tls: ok\n");
    return 0;
}
