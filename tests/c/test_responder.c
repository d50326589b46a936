/* Handlers that hand their work to the application's own threads: the callback queues the
 * responder and returns at once; worker threads reply later. Also: replies after the caller's
 * deadline, releasing a responder from another thread, and the request's timeout. */
#define _POSIX_C_SOURCE 200809L
#include <ctype.h>
#include <stdint.h>

#include "testutil.h"

enum { WORKERS = 3, CLIENT_THREADS = 4, CALLS_PER_THREAD = 25, QUEUE_CAP = 256 };

struct job {
    rpcx_responder *resp;
    char data[64];
    size_t len;
    int action; /* 0 reply uppercase, 1 release, 2 reply late */
};

static struct {
    mtx_t lock;
    cnd_t ready;
    struct job jobs[QUEUE_CAP];
    int head, tail;
    int stop;
} queue;

static atomic_int late_status = -1;
static atomic_long seen_timeout = -2;

static void push(struct job j) {
    mtx_lock(&queue.lock);
    CHECK(queue.tail - queue.head < QUEUE_CAP);
    queue.jobs[queue.tail++ % QUEUE_CAP] = j;
    cnd_signal(&queue.ready);
    mtx_unlock(&queue.lock);
}

static int worker(void *arg) {
    (void)arg;
    for (;;) {
        mtx_lock(&queue.lock);
        while (queue.head == queue.tail && !queue.stop) {
            cnd_wait(&queue.ready, &queue.lock);
        }
        if (queue.head == queue.tail && queue.stop) {
            mtx_unlock(&queue.lock);
            return 0;
        }
        struct job j = queue.jobs[queue.head++ % QUEUE_CAP];
        mtx_unlock(&queue.lock);
        sleep_ms(1);
        if (j.action == 0) {
            for (size_t i = 0; i < j.len; i++) {
                j.data[i] = (char)toupper((unsigned char)j.data[i]);
            }
            rpcx_metadata *md = rpcx_metadata_new();
            CHECK_OK(rpcx_metadata_set(md, "worker", "yes"));
            CHECK_OK(rpcx_responder_reply(j.resp, (const uint8_t *)j.data, j.len, md));
            rpcx_metadata_free(md);
            /* Completing twice is refused, not a crash. */
            CHECK_STATUS(rpcx_responder_reply(j.resp, NULL, 0, NULL), RPCX_ERR_INVALID_STATE);
            CHECK_STATUS(rpcx_responder_error(j.resp, "x", NULL, 0), RPCX_ERR_INVALID_STATE);
        } else if (j.action == 1) {
            rpcx_responder_free(j.resp);
            rpcx_responder_free(j.resp); /* second release: ignored */
        } else {
            sleep_ms(1000); /* well past the caller's 50 ms deadline */
            atomic_store(&late_status, (int)rpcx_responder_reply(j.resp, NULL, 0, NULL));
        }
    }
}

static void on_queue(void *userdata, const rpcx_request *req, rpcx_responder *resp) {
    struct job j;
    j.resp = resp;
    j.action = (int)(intptr_t)userdata;
    size_t len = 0;
    const uint8_t *data = rpcx_request_payload(req, &len);
    CHECK(len < sizeof j.data);
    if (len > 0) {
        memcpy(j.data, data, len);
    }
    j.len = len;
    if (j.action == 2) {
        atomic_store(&seen_timeout, (long)rpcx_request_timeout_ms(req));
    }
    push(j);
}

static rpcx_client *g_client;
static atomic_int ok_calls;

static int caller(void *arg) {
    int t = (int)(intptr_t)arg;
    for (int i = 0; i < CALLS_PER_THREAD; i++) {
        char payload[32];
        int n = snprintf(payload, sizeof payload, "abc-%d-%d", t, i);
        rpcx_buf reply = empty_buf();
        rpcx_metadata *md = NULL;
        rpcx_error *err = NULL;
        CHECK_CALL(rpcx_client_call(g_client, "Q", "Upper", (const uint8_t *)payload, (size_t)n, NULL,
                                    30000, &reply, &md, &err),
                   &err);
        for (int k = 0; k < n; k++) {
            payload[k] = (char)toupper((unsigned char)payload[k]);
        }
        CHECK(reply.len == (size_t)n && memcmp(reply.data, payload, (size_t)n) == 0);
        CHECK_STR(meta_get(md, "worker"), "yes");
        rpcx_buf_free(&reply);
        rpcx_metadata_free(md);
        atomic_fetch_add(&ok_calls, 1);
    }
    return 0;
}

int main(void) {
    CHECK(mtx_init(&queue.lock, mtx_plain) == thrd_success);
    CHECK(cnd_init(&queue.ready) == thrd_success);
    thrd_t workers[WORKERS];
    for (int i = 0; i < WORKERS; i++) {
        CHECK(thrd_create(&workers[i], worker, NULL) == thrd_success);
    }

    rpcx_server *server = NULL;
    CHECK_OK(rpcx_server_new(NULL, &server));
    CHECK_OK(rpcx_server_register(server, "Q", "Upper", on_queue, (void *)(intptr_t)0, NULL));
    CHECK_OK(rpcx_server_register(server, "Q", "Release", on_queue, (void *)(intptr_t)1, NULL));
    CHECK_OK(rpcx_server_register(server, "Q", "Late", on_queue, (void *)(intptr_t)2, NULL));
    uint16_t port = 0;
    CHECK_OK(rpcx_server_start(server, "tcp@127.0.0.1:0", &port, NULL));
    char addr[64];
    snprintf(addr, sizeof addr, "tcp@127.0.0.1:%u", (unsigned)port);
    CHECK_OK(test_connect(addr, &g_client, NULL));

    thrd_t callers[CLIENT_THREADS];
    for (int t = 0; t < CLIENT_THREADS; t++) {
        CHECK(thrd_create(&callers[t], caller, (void *)(intptr_t)t) == thrd_success);
    }
    for (int t = 0; t < CLIENT_THREADS; t++) {
        CHECK(thrd_join(callers[t], NULL) == thrd_success);
    }
    CHECK(atomic_load(&ok_calls) == CLIENT_THREADS * CALLS_PER_THREAD);

    /* Released from a worker thread: the caller gets an error, not a hang. */
    rpcx_error *err = NULL;
    CHECK_STATUS(rpcx_client_call(g_client, "Q", "Release", NULL, 0, NULL, 30000, NULL, NULL, &err),
                 RPCX_ERR_SERVER);
    CHECK_STR(rpcx_error_message(err, NULL), "rpcx: handler released the call without replying");
    rpcx_error_free(err);

    /* A reply after the deadline: the caller timed out, the responder is refused. */
    err = NULL;
    CHECK_STATUS(rpcx_client_call(g_client, "Q", "Late", NULL, 0, NULL, 50, NULL, NULL, &err),
                 RPCX_ERR_TIMEOUT);
    rpcx_error_free(err);
    long t = atomic_load(&seen_timeout);
    CHECK(t >= 0 && t <= 50);
    long end = now_ms() + 30000;
    while (atomic_load(&late_status) == -1 && now_ms() < end) {
        sleep_ms(5);
    }
    CHECK(atomic_load(&late_status) == RPCX_ERR_INVALID_STATE);

    rpcx_client_free(g_client);
    CHECK_OK(rpcx_server_shutdown(server, 1000));
    rpcx_server_free(server);

    mtx_lock(&queue.lock);
    queue.stop = 1;
    cnd_broadcast(&queue.ready);
    mtx_unlock(&queue.lock);
    for (int i = 0; i < WORKERS; i++) {
        CHECK(thrd_join(workers[i], NULL) == thrd_success);
    }
    mtx_destroy(&queue.lock);
    cnd_destroy(&queue.ready);
    printf("test_responder: ok (%d calls answered from worker threads)\n", atomic_load(&ok_calls));
    return 0;
}
