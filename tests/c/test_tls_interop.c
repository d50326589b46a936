/* Interop over TLS: a C client calling another process's rpcx server over TLS — the Go
 * interop server (github.com/smallnest/rpcx with server.WithTLSConfig) or the Rust Arith
 * example — given in RPCX_TLS_SERVER and started with `--tls-cert --tls-key` (and
 * `--tls-client-ca` for mutual TLS). The C client calls Arith.Mul with its client
 * certificate; without one, trusting another CA, expecting another name, or meeting the
 * server's expired certificate it is refused with RPCX_ERR_CONNECTION and the TLS reason.
 * Certificates: the tls_certs fixture (RPCX_TLS_DIR). */
#define _POSIX_C_SOURCE 200809L
#include <signal.h>
#include <spawn.h>
#include <stdint.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <unistd.h>

#include "tls_util.h"

extern char **environ;

static pid_t servers[2];

static void stop_servers(void) {
    for (int i = 0; i < 2; i++) {
        if (servers[i] > 0) {
            kill(servers[i], SIGTERM);
            int status = 0;
            waitpid(servers[i], &status, 0);
            servers[i] = 0;
        }
    }
}

/* Starts `binary` with TLS from `cert` (a PKI name without extension: `<cert>.pem`,
 * `<cert>.key`), requiring client certificates when `mtls`; its address goes to `addr`. */
static void start_server(int slot, const char *binary, const char *cert, int mtls, char *addr,
                         size_t cap) {
    char cert_file[64], key_file[64];
    snprintf(cert_file, sizeof cert_file, "%s.pem", cert);
    snprintf(key_file, sizeof key_file, "%s.key", cert);
    int fds[2];
    CHECK(pipe(fds) == 0);
    posix_spawn_file_actions_t fa;
    CHECK(posix_spawn_file_actions_init(&fa) == 0);
    CHECK(posix_spawn_file_actions_adddup2(&fa, fds[1], STDOUT_FILENO) == 0);
    CHECK(posix_spawn_file_actions_addclose(&fa, fds[0]) == 0);
    char *argv[10];
    int n = 0;
    argv[n++] = (char *)binary;
    argv[n++] = "--addr";
    argv[n++] = "tcp@127.0.0.1:0";
    argv[n++] = "--tls-cert";
    argv[n++] = (char *)pki(cert_file);
    argv[n++] = "--tls-key";
    argv[n++] = (char *)pki(key_file);
    if (mtls) {
        argv[n++] = "--tls-client-ca";
        argv[n++] = (char *)pki("ca.pem");
    }
    argv[n] = NULL;
    CHECK(posix_spawn(&servers[slot], binary, &fa, NULL, argv, environ) == 0);
    posix_spawn_file_actions_destroy(&fa);
    close(fds[1]);
    FILE *out = fdopen(fds[0], "r");
    CHECK(out != NULL);
    char line[256];
    CHECK(fgets(line, sizeof line, out) != NULL);
    fclose(out);
    line[strcspn(line, "\r\n")] = 0;
    CHECK(strncmp(line, "LISTENING ", 10) == 0);
    snprintf(addr, cap, "%s", line + 10);
}

static const char MUL[] = "{\"A\":7,\"B\":8}";

static void mul_ok(const char *addr, rpcx_client_options *opts) {
    CHECK_OK(rpcx_client_options_set_serialize_type(opts, RPCX_SERIALIZE_JSON));
    rpcx_client *c = NULL;
    rpcx_error *err = NULL;
    CHECK_CALL(rpcx_client_connect(addr, opts, &c, &err), &err);
    rpcx_buf reply = empty_buf();
    CHECK_CALL(rpcx_client_call(c, "Arith", "Mul", (const uint8_t *)MUL, sizeof MUL - 1, NULL, 0,
                                &reply, NULL, &err),
               &err);
    CHECK(reply.len == 8 && memcmp(reply.data, "{\"C\":56}", 8) == 0);
    rpcx_buf_free(&reply);
    rpcx_client_free(c);
}

int main(void) {
    const char *binary = getenv("RPCX_TLS_SERVER");
    if (binary == NULL || *binary == 0 || access(binary, X_OK) != 0) {
        printf("SKIP: no TLS interop server (RPCX_TLS_SERVER=%s)\n", binary ? binary : "");
        return 77;
    }
    atexit(stop_servers);
    char mtls[128], expired[128];
    start_server(0, binary, "server", 1, mtls, sizeof mtls);
    start_server(1, binary, "expired", 0, expired, sizeof expired);
    printf("mutual TLS server %s, expired-certificate server %s (%s)\n", mtls, expired, binary);

    rpcx_client_options *opts = tls_client_options("ca.pem", 1);
    mul_ok(mtls, opts);
    rpcx_client_options_free(opts);

    /* Go's TLS and rustls word the refusal of a missing client certificate alike: the
     * certificate_required alert. */
    opts = tls_client_options("ca.pem", 0);
    expect_tls_failure(mtls, opts, "Arith", "Mul", MUL, RPCX_ERR_CONNECTION,
                       "received fatal alert: CertificateRequired");
    rpcx_client_options_free(opts);
    opts = tls_client_options("other-ca.pem", 1);
    expect_tls_failure(mtls, opts, "Arith", "Mul", MUL, RPCX_ERR_CONNECTION,
                       "invalid peer certificate: UnknownIssuer");
    rpcx_client_options_free(opts);
    opts = tls_client_options("ca.pem", 1);
    rpcx_error *err = NULL;
    CHECK_CALL(rpcx_client_options_set_tls_server_name(opts, "wrong.example.com", &err), &err);
    expect_tls_failure(mtls, opts, "Arith", "Mul", MUL, RPCX_ERR_CONNECTION,
                       "certificate not valid for name \"wrong.example.com\"");
    rpcx_client_options_free(opts);
    opts = tls_client_options("ca.pem", 0);
    expect_tls_failure(expired, opts, "Arith", "Mul", MUL, RPCX_ERR_CONNECTION,
                       "invalid peer certificate: certificate expired");
    rpcx_client_options_free(opts);

    stop_servers();
    printf("test_tls_interop: ok\n");
    return 0;
}
