/* A handler callback that never returns (here: until the test lets it go) must not make
 * rpcx_server_shutdown or rpcx_server_free hang: each waits at most the grace period plus
 * RPCX_SHUTDOWN_MARGIN_MS (plus the registries' flush), then returns with the stuck thread left
 * running. The server's finalizers are deferred until the callback returns; released here,
 * they then run (on a runtime thread) and the process ends cleanly under valgrind and ASan. */
#define _POSIX_C_SOURCE 200809L
#include <semaphore.h>
#include <stdint.h>

#include "testutil.h"

/* If shutdown or free has not returned by then, the watchdog releases the handler (so the
 * test ends instead of hanging) and the test fails. */
enum { WATCHDOG_MS = 45000, GRACE_MS = 200 };

static sem_t release_handler;
static atomic_int entered;
static atomic_int returned;
static atomic_int finalized;
static atomic_int callbacks;
static atomic_int stage_done;     /* set by the main thread after each bounded stage */
static atomic_int watchdog_fired;

static void on_stuck(void *userdata, const rpcx_request *req, rpcx_responder *resp) {
    (void)userdata;
    (void)req;
    atomic_fetch_add(&entered, 1);
    while (sem_wait(&release_handler) != 0) {
    }
    /* The server is gone by now: the reply goes nowhere (or is refused), harmlessly. */
    rpcx_status s = rpcx_responder_reply(resp, NULL, 0, NULL);
    CHECK(s == RPCX_OK || s == RPCX_ERR_INVALID_STATE);
    atomic_fetch_add(&returned, 1);
}

static void on_echo(void *userdata, const rpcx_request *req, rpcx_responder *resp) {
    (void)userdata;
    size_t len = 0;
    const uint8_t *data = rpcx_request_payload(req, &len);
    CHECK_OK(rpcx_responder_reply(resp, data, len, NULL));
}

static void count_finalizer(void *userdata) {
    (void)userdata;
    atomic_fetch_add(&finalized, 1);
}

static void on_done(void *userdata, uint64_t call_id, rpcx_status status, const uint8_t *reply,
                    size_t reply_len, const rpcx_metadata *reply_meta, const rpcx_error *error) {
    (void)userdata;
    (void)call_id;
    (void)reply;
    (void)reply_len;
    (void)reply_meta;
    CHECK(status != RPCX_OK && error != NULL);
    atomic_fetch_add(&callbacks, 1);
}

/* Waits until the main thread finished `stages` bounded stages; otherwise lets the handler go. */
static int watchdog(void *arg) {
    int stages = *(int *)arg;
    long end = now_ms() + WATCHDOG_MS;
    while (atomic_load(&stage_done) < stages) {
        if (now_ms() > end) {
            atomic_store(&watchdog_fired, 1);
            sem_post(&release_handler);
            return 0;
        }
        sleep_ms(10);
    }
    return 0;
}

int main(void) {
    CHECK(sem_init(&release_handler, 0, 0) == 0);
    rpcx_server *server = NULL;
    CHECK_OK(rpcx_server_new(NULL, &server));
    CHECK_OK(rpcx_server_register(server, "S", "Stuck", on_stuck, NULL, count_finalizer));
    CHECK_OK(rpcx_server_register(server, "S", "Echo", on_echo, NULL, count_finalizer));
    uint16_t port = 0;
    CHECK_OK(rpcx_server_start(server, "tcp@127.0.0.1:0", &port, NULL));
    char addr[64];
    snprintf(addr, sizeof addr, "tcp@127.0.0.1:%u", (unsigned)port);
    rpcx_client *client = NULL;
    CHECK_OK(test_connect(addr, &client, NULL));
    CHECK_OK(rpcx_client_call_async(client, "S", "Stuck", NULL, 0, NULL, 0, on_done, NULL, NULL));
    wait_for(&entered, 1, 30000, "the handler to block");
    /* The other workers still serve. */
    CHECK_OK(rpcx_client_call(client, "S", "Echo", (const uint8_t *)"x", 1, NULL, 30000, NULL,
                              NULL, NULL));

    int stages = 2;
    thrd_t dog;
    CHECK(thrd_create(&dog, watchdog, &stages) == thrd_success);

    /* Shutdown gives up after the grace period plus the margin: the callback is still in. */
    long t0 = now_ms();
    rpcx_status st = rpcx_server_shutdown(server, GRACE_MS);
    long took = now_ms() - t0;
    atomic_fetch_add(&stage_done, 1);
    CHECK(!atomic_load(&watchdog_fired));
    CHECK_STATUS(st, RPCX_ERR_TIMEOUT);
    CHECK(took >= GRACE_MS && took < 30000);
    CHECK(atomic_load(&returned) == 0);

    /* Free is bounded too; the finalizers wait for the stuck callback. */
    t0 = now_ms();
    rpcx_server_free(server);
    took = now_ms() - t0;
    atomic_fetch_add(&stage_done, 1);
    CHECK(thrd_join(dog, NULL) == thrd_success);
    CHECK(!atomic_load(&watchdog_fired));
    CHECK(took < 30000);
    CHECK(atomic_load(&returned) == 0);
    CHECK(atomic_load(&finalized) == 0);

    /* The client saw its connection go: the async call completed with an error. */
    wait_for(&callbacks, 1, 30000, "the stuck call's completion");
    rpcx_client_free(client);

    /* Let the callback return: the deferred finalizers run, on a runtime thread. */
    CHECK(sem_post(&release_handler) == 0);
    wait_for(&returned, 1, 30000, "the handler to return");
    wait_for(&finalized, 2, 30000, "the deferred finalizers");
    CHECK(atomic_load(&finalized) == 2);
    sem_destroy(&release_handler);
    printf("test_stuck_handler: ok\n");
    return 0;
}
