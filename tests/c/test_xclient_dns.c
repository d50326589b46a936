/* DNS discovery through the C API, against the responder with_dns.sh starts (RPCX_DNS_ADDR;
 * tests/python/fake_dns.py answers RPCX_DNS_NAME from the RPCX_DNS_RECORDS file): servers a
 * and b on 127.0.0.2 and 127.0.0.3 with one port, the name answering both: an XClient spreads
 * calls over both; the records change and the XClient follows; the responder falls silent and
 * calls keep going to the last list; bad arguments and an unanswered first lookup are
 * refused. Skipped (77) without RPCX_DNS_ADDR. */
#define _POSIX_C_SOURCE 200809L
#include "xclient_util.h"

static const char *records_path;

/* Replaces the responder's answer (written aside, then renamed: never read half-written). */
static void set_records(const char *text) {
    char tmp[4096];
    snprintf(tmp, sizeof tmp, "%s.tmp", records_path);
    FILE *f = fopen(tmp, "w");
    CHECK(f != NULL);
    CHECK(fputs(text, f) >= 0);
    CHECK(fclose(f) == 0);
    CHECK(rename(tmp, records_path) == 0);
}

/* The number of queries the responder has seen. */
static long queries(void) {
    char path[4096];
    snprintf(path, sizeof path, "%s.queries", records_path);
    FILE *f = fopen(path, "r");
    long n = 0;
    if (f != NULL) {
        if (fscanf(f, "%ld", &n) != 1) {
            n = 0;
        }
        fclose(f);
    }
    return n;
}

static int start_at(struct named_server *s, const char *ip, uint16_t want, uint16_t *port) {
    char address[64];
    snprintf(address, sizeof address, "tcp@%s:%u", ip, (unsigned)want);
    rpcx_error *err = NULL;
    rpcx_status st = rpcx_server_start(s->server, address, port, &err);
    rpcx_error_free(err);
    return st == RPCX_OK;
}

int main(void) {
    const char *ns = getenv("RPCX_DNS_ADDR");
    const char *name = getenv("RPCX_DNS_NAME");
    records_path = getenv("RPCX_DNS_RECORDS");
    if (ns == NULL || *ns == 0 || name == NULL || records_path == NULL) {
        fprintf(stderr, "SKIP: RPCX_DNS_ADDR not set (run through with_dns.sh)\n");
        return 77;
    }
    long guard = 60000;

    /* a and b on one port of two loopback addresses. */
    static struct named_server a, b;
    uint16_t port = 0;
    for (int attempt = 0;; attempt++) {
        CHECK(attempt < 20);
        ns_create(&a, "a");
        ns_create(&b, "b");
        CHECK(start_at(&a, "127.0.0.2", 0, &port));
        uint16_t port_b = 0;
        if (start_at(&b, "127.0.0.3", port, &port_b)) {
            CHECK(port_b == port);
            break;
        }
        ns_free(&a);
        ns_free(&b);
    }

    set_records("127.0.0.3\n127.0.0.2\n");
    rpcx_discovery *d = NULL;
    rpcx_error *err = NULL;
    CHECK_CALL(rpcx_discovery_new_dns(name, NULL, port, 200, ns, &d, &err), &err);
    CHECK(rpcx_discovery_len(d) == 2);
    rpcx_xclient_options *o = xopts(RPCX_SELECT_ROUND_ROBIN, RPCX_FAIL_FAILFAST);
    rpcx_xclient *xc = NULL;
    CHECK_CALL(rpcx_xclient_new("T", d, o, &xc, &err), &err);
    rpcx_xclient_options_free(o);
    /* The XClient keeps the discovery alive. */
    rpcx_discovery_free(d);

    int seen_a = 0, seen_b = 0;
    char who[16];
    for (int i = 0; i < 10; i++) {
        CHECK_OK(xcall(xc, "Who", "", who, sizeof who, 1));
        seen_a += strcmp(who, "a") == 0;
        seen_b += strcmp(who, "b") == 0;
    }
    CHECK(seen_a == 5 && seen_b == 5);

    /* The records change: the XClient follows. */
    set_records("127.0.0.3\n");
    wait_servers(xc, 1, guard);
    for (int i = 0; i < 3; i++) {
        CHECK_OK(xcall(xc, "Who", "", who, sizeof who, 1));
        CHECK_STR(who, "b");
    }

    /* Silence, then SERVFAIL: refreshes fail, the last list stays and calls go on. */
    const char *failures[] = {"silent\n", "servfail\n"};
    for (int f = 0; f < 2; f++) {
        set_records(failures[f]);
        long asked = queries();
        long end = now_ms() + guard;
        while (queries() < asked + 10) { /* two or more refreshes met the failure */
            CHECK(now_ms() < end);
            sleep_ms(20);
        }
        CHECK(rpcx_xclient_server_count(xc) == 1);
        CHECK_OK(xcall(xc, "Who", "", who, sizeof who, 1));
        CHECK_STR(who, "b");
    }
    set_records("127.0.0.2\n127.0.0.3\n");
    wait_servers(xc, 2, guard);

    /* Bad arguments. */
    rpcx_discovery *none = NULL;
    CHECK(rpcx_discovery_new_dns(NULL, NULL, port, 200, ns, &none, NULL) == RPCX_ERR_NULL_ARG);
    CHECK(rpcx_discovery_new_dns(name, NULL, port, 200, ns, NULL, NULL) == RPCX_ERR_NULL_ARG);
    CHECK(rpcx_discovery_new_dns("", NULL, port, 200, ns, &none, NULL) == RPCX_ERR_INVALID_ARG);
    CHECK(rpcx_discovery_new_dns(name, "unix", port, 200, ns, &none, NULL) ==
          RPCX_ERR_INVALID_ARG);
    CHECK(rpcx_discovery_new_dns(name, NULL, 0, 200, ns, &none, NULL) == RPCX_ERR_INVALID_ARG);
    CHECK(rpcx_discovery_new_dns(name, NULL, port, 0, ns, &none, NULL) == RPCX_ERR_INVALID_ARG);
    CHECK(rpcx_discovery_new_dns(name, NULL, port, 200, "nameserver", &none, &err) ==
          RPCX_ERR_INVALID_ARG);
    CHECK(strstr(rpcx_error_message(err, NULL), "nameserver") != NULL);
    rpcx_error_free(err);
    err = NULL;
    /* No answer to the first lookup: an error naming DNS. */
    set_records("servfail\n");
    CHECK(rpcx_discovery_new_dns(name, "tcp", port, 200, ns, &none, &err) == RPCX_ERR_IO);
    CHECK(none == NULL);
    CHECK(strstr(rpcx_error_message(err, NULL), "dns") != NULL);
    rpcx_error_free(err);

    rpcx_xclient_free(xc);
    CHECK_OK(rpcx_server_shutdown(a.server, 1000));
    CHECK_OK(rpcx_server_shutdown(b.server, 1000));
    ns_free(&a);
    ns_free(&b);
    printf("test_xclient_dns: ok\n");
    return 0;
}
