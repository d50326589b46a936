/* rpcx_runtime_set_worker_threads against the lazy start of the runtime, from two threads:
 * it either takes effect (the runtime then runs exactly that many workers) or returns
 * RPCX_ERR_INVALID_STATE — never RPCX_OK while being ignored. The runtime starts once per
 * process, so each race runs in a forked child (forked before anything started a runtime).
 * Workers are counted by thread name ("rpcx-worker") in /proc/self/task. */
#define _POSIX_C_SOURCE 200809L
#include <dirent.h>
#include <stdint.h>
#include <sys/wait.h>
#include <unistd.h>

#include "testutil.h"

/* Threads of this process named rpcx-worker (the runtime's workers and blocking threads). */
static int count_workers(void) {
    DIR *d = opendir("/proc/self/task");
    CHECK(d != NULL);
    int n = 0;
    struct dirent *e;
    while ((e = readdir(d)) != NULL) {
        if (e->d_name[0] == '.') {
            continue;
        }
        char path[300];
        snprintf(path, sizeof path, "/proc/self/task/%s/comm", e->d_name);
        FILE *f = fopen(path, "r");
        if (f == NULL) {
            continue; /* the thread just ended */
        }
        char name[64] = {0};
        if (fgets(name, sizeof name, f) != NULL && strcmp(name, "rpcx-worker\n") == 0) {
            n++;
        }
        fclose(f);
    }
    closedir(d);
    return n;
}

/* Waits (bounded) until the count of workers stops changing, and returns it. */
static int settled_workers(int at_least) {
    long end = now_ms() + 20000;
    int last = -1, same = 0;
    for (;;) {
        int n = count_workers();
        same = n == last ? same + 1 : 0;
        last = n;
        if ((n >= at_least && same >= 5) || now_ms() > end) {
            return n;
        }
        sleep_ms(20);
    }
}

static rpcx_server *start_server(void) {
    rpcx_server *server = NULL;
    CHECK_OK(rpcx_server_new(NULL, &server));
    CHECK_OK(rpcx_server_start(server, "tcp@127.0.0.1:0", NULL, NULL));
    return server;
}

struct race {
    atomic_int ready;
    atomic_int go;
    int workers;
    long delay_spins;
    rpcx_server *server;
    rpcx_status set_status;
};

static void wait_go(struct race *r) {
    atomic_fetch_add(&r->ready, 1);
    while (!atomic_load(&r->go)) {
    }
}

static int setter(void *arg) {
    struct race *r = arg;
    wait_go(r);
    /* Spread the moment over the runtime's start across trials. */
    for (volatile long i = 0; i < r->delay_spins; i++) {
    }
    r->set_status = rpcx_runtime_set_worker_threads((size_t)r->workers);
    return 0;
}

static int starter(void *arg) {
    struct race *r = arg;
    wait_go(r);
    CHECK_OK(rpcx_server_start(r->server, "tcp@127.0.0.1:0", NULL, NULL));
    return 0;
}

/* One race in this (child) process; exits with 0 when the outcome is consistent. */
static void race_once(int workers, long delay_spins) {
    struct race r = {0};
    r.workers = workers;
    r.delay_spins = delay_spins;
    CHECK_OK(rpcx_server_new(NULL, &r.server));
    thrd_t a, b;
    CHECK(thrd_create(&a, setter, &r) == thrd_success);
    CHECK(thrd_create(&b, starter, &r) == thrd_success);
    while (atomic_load(&r.ready) < 2) {
    }
    atomic_store(&r.go, 1);
    CHECK(thrd_join(a, NULL) == thrd_success);
    CHECK(thrd_join(b, NULL) == thrd_success);
    if (r.set_status == RPCX_OK) {
        int n = settled_workers(workers);
        if (n < workers) {
            fprintf(stderr, "set_worker_threads(%d) returned RPCX_OK but the runtime runs %d\n",
                    workers, n);
            exit(2);
        }
    } else if (r.set_status != RPCX_ERR_INVALID_STATE) {
        fprintf(stderr, "set_worker_threads racing the start returned %d (%s)\n",
                (int)r.set_status, rpcx_status_str((int)r.set_status));
        exit(3);
    }
    rpcx_server_free(r.server);
    exit(r.set_status == RPCX_OK ? 10 : 11);
}

/* The runtime's default number of workers, measured in a child. */
static void default_workers(void) {
    rpcx_server *server = start_server();
    int n = settled_workers(1);
    rpcx_server_free(server);
    exit(n > 0 && n < 200 ? n : 0);
}

static int run_child(void (*fn)(int, long), int workers, long spins) {
    fflush(NULL);
    pid_t pid = fork();
    CHECK(pid >= 0);
    if (pid == 0) {
        fn(workers, spins);
        exit(1);
    }
    int status = 0;
    CHECK(waitpid(pid, &status, 0) == pid);
    CHECK(WIFEXITED(status));
    return WEXITSTATUS(status);
}

static void default_child(int unused_workers, long unused_spins) {
    (void)unused_workers;
    (void)unused_spins;
    default_workers();
}

int main(void) {
    int trials = getenv("RPCX_UNDER_VALGRIND") ? 4 : 100;
    int d = run_child(default_child, 0, 0);
    CHECK(d > 0);
    int workers = d + 3;
    int applied = 0, refused = 0;
    for (int i = 0; i < trials; i++) {
        int code = run_child(race_once, workers, (long)(i % 50) * 2000);
        if (code == 10) {
            applied++;
        } else if (code == 11) {
            refused++;
        } else {
            fprintf(stderr, "trial %d failed (child exit %d)\n", i, code);
            return 1;
        }
    }
    printf("races: %d applied, %d refused (default %d workers, asked %d)\n", applied, refused, d,
           workers);

    /* Sequentially in this process: settable (again) until the runtime starts, then refused. */
    CHECK_STATUS(rpcx_runtime_set_worker_threads(0), RPCX_ERR_INVALID_ARG);
    CHECK_OK(rpcx_runtime_set_worker_threads((size_t)workers + 5));
    CHECK_OK(rpcx_runtime_set_worker_threads((size_t)workers));
    rpcx_server *server = start_server();
    CHECK_STATUS(rpcx_runtime_set_worker_threads(1), RPCX_ERR_INVALID_STATE);
    int n = settled_workers(workers);
    CHECK(n >= workers && n < workers + 5); /* the last value set before the start */
    rpcx_server_free(server);
    printf("test_runtime_threads: ok\n");
    return 0;
}
