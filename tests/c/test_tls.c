/* TLS and mutual TLS through the C API: a C server with its certificate from files and a
 * required client CA, C clients with PEM bytes and with files, an XClient; a client without
 * a certificate, one trusting another CA, one expecting another name and one meeting an
 * expired certificate each fail with RPCX_ERR_CONNECTION and rustls' reason; the DANGER
 * insecure setting accepts the expired certificate; a server with optional client
 * certificates admits an anonymous client and refuses a foreign certificate; bad PEM, missing files and misuse are
 * refused by the setters with clear messages. Certificates: the tls_certs fixture. */
#define _POSIX_C_SOURCE 200809L
#include <stdint.h>

#include "tls_util.h"

static void on_echo(void *userdata, const rpcx_request *req, rpcx_responder *resp) {
    (void)userdata;
    size_t len = 0;
    const uint8_t *data = rpcx_request_payload(req, &len);
    CHECK_OK(rpcx_responder_reply(resp, data, len, NULL));
}

/* A server of Echo.Echo with `opts`; its address goes to `addr`. */
static rpcx_server *start(const rpcx_server_options *opts, char *addr, size_t cap) {
    rpcx_server *server = NULL;
    CHECK_OK(rpcx_server_new(opts, &server));
    CHECK_OK(rpcx_server_register(server, "Echo", "Echo", on_echo, NULL, NULL));
    uint16_t port = 0;
    rpcx_error *err = NULL;
    CHECK_CALL(rpcx_server_start(server, "tcp@127.0.0.1:0", &port, &err), &err);
    snprintf(addr, cap, "tcp@127.0.0.1:%u", (unsigned)port);
    return server;
}

static void echo_ok(const char *addr, const rpcx_client_options *opts) {
    rpcx_client *c = NULL;
    rpcx_error *err = NULL;
    CHECK_CALL(rpcx_client_connect(addr, opts, &c, &err), &err);
    rpcx_buf reply = empty_buf();
    CHECK_CALL(rpcx_client_call(c, "Echo", "Echo", (const uint8_t *)"tls", 3, NULL, 0, &reply,
                                NULL, &err),
               &err);
    CHECK(reply.len == 3 && memcmp(reply.data, "tls", 3) == 0);
    rpcx_buf_free(&reply);
    rpcx_client_free(c);
}

/* The setters refuse what cannot work, with a message, and leave the options unchanged. */
static void setter_errors(void) {
    rpcx_server_options *so = rpcx_server_options_new();
    rpcx_error *err = NULL;
    static const char junk[] = "not a certificate";
    size_t key_len = 0;
    uint8_t *key = pki_read("server.key", &key_len);
    CHECK_STATUS(rpcx_server_options_set_tls_pem(so, (const uint8_t *)junk, sizeof junk - 1, key,
                                                 key_len, &err),
                 RPCX_ERR_CONFIG);
    CHECK(strstr(err_text(err), "TLS certificate: no CERTIFICATE block found") != NULL);
    rpcx_error_free(err);
    err = NULL;
    CHECK_STATUS(rpcx_server_options_set_tls_files(so, "/nonexistent/s.pem", pki("server.key"), &err),
                 RPCX_ERR_CONFIG);
    CHECK(strstr(err_text(err), "/nonexistent/s.pem") != NULL);
    rpcx_error_free(err);
    err = NULL;
    /* The client CA comes after the certificate. */
    CHECK_STATUS(rpcx_server_options_set_tls_client_ca_file(so, pki("ca.pem"), true, &err),
                 RPCX_ERR_INVALID_STATE);
    rpcx_error_free(err);
    err = NULL;
    /* A key that is not the certificate's. */
    CHECK_STATUS(rpcx_server_options_set_tls_files(so, pki("server.pem"), pki("client.key"), &err),
                 RPCX_ERR_CONFIG);
    CHECK(strstr(err_text(err), "TLS certificate and key") != NULL);
    rpcx_error_free(err);
    CHECK_STATUS(rpcx_server_options_set_tls_pem(NULL, NULL, 0, NULL, 0, NULL), RPCX_ERR_NULL_ARG);
    CHECK_STATUS(rpcx_server_options_set_tls_pem(so, NULL, 5, key, key_len, NULL),
                 RPCX_ERR_NULL_ARG);
    free(key);
    rpcx_server_options_free(so);

    rpcx_client_options *co = rpcx_client_options_new();
    err = NULL;
    CHECK_STATUS(rpcx_client_options_set_tls_ca_pem(co, (const uint8_t *)junk, sizeof junk - 1, &err),
                 RPCX_ERR_CONFIG);
    CHECK(strstr(err_text(err), "TLS CA: no CERTIFICATE block found") != NULL);
    rpcx_error_free(err);
    err = NULL;
    CHECK_STATUS(rpcx_client_options_set_tls_server_name(co, "not a name!", &err), RPCX_ERR_CONFIG);
    CHECK(strstr(err_text(err), "TLS server name") != NULL);
    rpcx_error_free(err);
    err = NULL;
    CHECK_STATUS(rpcx_client_options_set_tls_client_cert_file(co, pki("client.pem"), "/nonexistent/k",
                                                              &err),
                 RPCX_ERR_CONFIG);
    CHECK(strstr(err_text(err), "/nonexistent/k") != NULL);
    rpcx_error_free(err);
    CHECK_STATUS(rpcx_client_options_set_tls_server_name(co, NULL, NULL), RPCX_ERR_NULL_ARG);
    CHECK_STATUS(rpcx_client_options_set_tls(NULL, true), RPCX_ERR_NULL_ARG);
    CHECK_STATUS(rpcx_xclient_options_set_tls_insecure(NULL, true), RPCX_ERR_NULL_ARG);
    rpcx_client_options_free(co);
}

static void xclient_over_tls(const char *addr) {
    rpcx_server_entry entry = {addr, ""};
    rpcx_discovery *d = NULL;
    CHECK_OK(rpcx_discovery_new_multiple(&entry, 1, &d));
    rpcx_xclient_options *xo = rpcx_xclient_options_new();
    rpcx_error *err = NULL;
    /* Settings copied from client options (TLS included), then one set directly. */
    rpcx_client_options *co = tls_client_options("ca.pem", 0);
    CHECK_OK(rpcx_xclient_options_set_client_options(xo, co));
    rpcx_client_options_free(co);
    CHECK_CALL(rpcx_xclient_options_set_tls_client_cert_file(xo, pki("client.pem"),
                                                             pki("client.key"), &err),
               &err);
    rpcx_xclient *xc = NULL;
    CHECK_CALL(rpcx_xclient_new("Echo", d, xo, &xc, &err), &err);
    rpcx_buf reply = empty_buf();
    CHECK_CALL(rpcx_xclient_call(xc, "Echo", (const uint8_t *)"x", 1, NULL, 0, &reply, NULL, &err),
               &err);
    CHECK(reply.len == 1 && reply.data[0] == 'x');
    rpcx_buf_free(&reply);
    rpcx_xclient_free(xc);

    /* Without the client certificate the XClient's call is refused by the server. */
    CHECK_OK(rpcx_xclient_options_set_tls(xo, false));
    CHECK_CALL(rpcx_xclient_options_set_tls_ca_file(xo, pki("ca.pem"), &err), &err);
    CHECK_OK(rpcx_xclient_options_set_fail_mode(xo, RPCX_FAIL_FAILFAST));
    CHECK_CALL(rpcx_xclient_new("Echo", d, xo, &xc, &err), &err);
    CHECK_STATUS(rpcx_xclient_call(xc, "Echo", (const uint8_t *)"x", 1, NULL, 0, NULL, NULL, &err),
                 RPCX_ERR_CONNECTION);
    CHECK(strstr(err_text(err), "CertificateRequired") != NULL);
    rpcx_error_free(err);
    rpcx_xclient_free(xc);
    rpcx_xclient_options_free(xo);
    rpcx_discovery_free(d);
}

int main(void) {
    setter_errors();

    /* Mutual TLS server: certificate from files, client certificates required. */
    rpcx_server_options *so = rpcx_server_options_new();
    rpcx_error *err = NULL;
    CHECK_CALL(rpcx_server_options_set_tls_files(so, pki("server.pem"), pki("server.key"), &err),
               &err);
    CHECK_CALL(rpcx_server_options_set_tls_client_ca_file(so, pki("ca.pem"), true, &err), &err);
    char mtls[64];
    rpcx_server *mtls_server = start(so, mtls, sizeof mtls);
    rpcx_server_options_free(so);

    /* Files. */
    rpcx_client_options *co = tls_client_options("ca.pem", 1);
    echo_ok(mtls, co);
    rpcx_client_options_free(co);

    /* PEM bytes, and the name given explicitly. */
    size_t ca_len = 0, cert_len = 0, key_len = 0;
    uint8_t *ca = pki_read("ca.pem", &ca_len);
    uint8_t *cert = pki_read("client.pem", &cert_len);
    uint8_t *key = pki_read("client.key", &key_len);
    co = rpcx_client_options_new();
    CHECK_CALL(rpcx_client_options_set_tls_ca_pem(co, ca, ca_len, &err), &err);
    CHECK_CALL(rpcx_client_options_set_tls_client_cert_pem(co, cert, cert_len, key, key_len, &err),
               &err);
    CHECK_CALL(rpcx_client_options_set_tls_server_name(co, "localhost", &err), &err);
    CHECK_OK(rpcx_client_options_set_connect_timeout_ms(co, 10000));
    free(ca);
    free(cert);
    free(key);
    echo_ok(mtls, co);
    rpcx_client_options_free(co);

    printf("mutual TLS refusals:\n");
    co = tls_client_options("ca.pem", 0);
    expect_tls_failure(mtls, co, "Echo", "Echo", "x", RPCX_ERR_CONNECTION,
                       "received fatal alert: CertificateRequired");
    rpcx_client_options_free(co);
    co = tls_client_options("other-ca.pem", 1);
    expect_tls_failure(mtls, co, "Echo", "Echo", "x", RPCX_ERR_CONNECTION,
                       "invalid peer certificate: UnknownIssuer");
    CHECK_CALL(rpcx_client_options_set_tls_ca_file(co, pki("ca.pem"), &err), &err);
    CHECK_CALL(rpcx_client_options_set_tls_server_name(co, "wrong.example.com", &err), &err);
    expect_tls_failure(mtls, co, "Echo", "Echo", "x", RPCX_ERR_CONNECTION,
                       "certificate not valid for name \"wrong.example.com\"");
    rpcx_client_options_free(co);

    xclient_over_tls(mtls);

    /* Optional client certificates: an anonymous client is let in, a presented certificate
     * is still verified (one from another CA is refused). */
    so = rpcx_server_options_new();
    CHECK_CALL(rpcx_server_options_set_tls_files(so, pki("server.pem"), pki("server.key"), &err),
               &err);
    CHECK_CALL(rpcx_server_options_set_tls_client_ca_file(so, pki("ca.pem"), false, &err), &err);
    char optional[64];
    rpcx_server *optional_server = start(so, optional, sizeof optional);
    rpcx_server_options_free(so);
    co = tls_client_options("ca.pem", 0);
    echo_ok(optional, co);
    CHECK_CALL(rpcx_client_options_set_tls_client_cert_file(co, pki("client.pem"),
                                                            pki("client.key"), &err),
               &err);
    echo_ok(optional, co);
    CHECK_CALL(rpcx_client_options_set_tls_client_cert_file(co, pki("other-client.pem"),
                                                            pki("other-client.key"), &err),
               &err);
    expect_tls_failure(optional, co, "Echo", "Echo", "x", RPCX_ERR_CONNECTION,
                       "received fatal alert");
    rpcx_client_options_free(co);
    CHECK_OK(rpcx_server_shutdown(optional_server, 1000));
    rpcx_server_free(optional_server);

    /* A server with an expired certificate (no client certificates asked). */
    so = rpcx_server_options_new();
    size_t ecert_len = 0, ekey_len = 0;
    uint8_t *ecert = pki_read("expired.pem", &ecert_len);
    uint8_t *ekey = pki_read("expired.key", &ekey_len);
    CHECK_CALL(rpcx_server_options_set_tls_pem(so, ecert, ecert_len, ekey, ekey_len, &err), &err);
    free(ecert);
    free(ekey);
    char expired[64];
    rpcx_server *expired_server = start(so, expired, sizeof expired);
    rpcx_server_options_free(so);
    co = tls_client_options("ca.pem", 0);
    expect_tls_failure(expired, co, "Echo", "Echo", "x", RPCX_ERR_CONNECTION,
                       "invalid peer certificate: certificate expired");
    /* DANGER: without verification the expired certificate is accepted. */
    CHECK_OK(rpcx_client_options_set_tls_insecure(co, true));
    echo_ok(expired, co);
    /* TLS off again: a plain client gets no answer from a TLS server. */
    CHECK_OK(rpcx_client_options_set_tls(co, false));
    CHECK_OK(rpcx_client_options_set_timeout_ms(co, 3000));
    rpcx_client *plain = NULL;
    CHECK_CALL(rpcx_client_connect(expired, co, &plain, &err), &err);
    CHECK(rpcx_client_call(plain, "Echo", "Echo", NULL, 0, NULL, 0, NULL, NULL, NULL) != RPCX_OK);
    rpcx_client_free(plain);
    rpcx_client_options_free(co);

    CHECK_OK(rpcx_server_shutdown(expired_server, 1000));
    rpcx_server_free(expired_server);
    CHECK_OK(rpcx_server_shutdown(mtls_server, 1000));
    rpcx_server_free(mtls_server);
    printf("test_tls: ok\n");
    return 0;
}
