"""The C runtime an exported library carries: what the JIT's process gives its code.

In the JIT, kernels link against symbols mlc registers (:mod:`..symbols`): libgomp's
``GOMP_parallel`` and its thread numbers, the process-wide thread-pool state
(``mlc_parallel_state``), the pooled launch's home counters (``mlc_parallel_homes``)
and the key under which worker threads keep their CPU (``mlc_parallel_placement_key``).
An exported library must run with the C library, libm and pthreads alone, so it
defines them itself, in :data:`RUNTIME_SOURCE`, compiled into the library and hidden
(a version script exports only the library's entries, so two libraries in one
process, or a libgomp loaded beside them, never see each other's):

* ``GOMP_parallel(task, data, n, flags)`` runs ``task(data)`` on a team of ``n``
  threads: the caller as thread 0 and ``n - 1`` workers of a pool of pthreads the
  library starts on first use and keeps; between launches a worker spins for
  ``GOMP_SPIN_COUNT`` rounds (as mlc sets libgomp's, :mod:`..symbols`) before it sleeps
  on a condition variable, and so does the caller waiting for its team;
  ``omp_get_thread_num``/``omp_get_num_threads`` answer from
  thread-local values. A worker that could not be started leaves its home to the
  others: a task takes the chunks left in every home of its team
  (:mod:`..parallel`), so the launch still covers every iteration.
* the state's thread count starts at ``MLC_NUM_THREADS`` or the CPUs the process may
  run on, at most ``MLC_MAX_THREADS``; ``mlc_<name>_set_num_threads`` changes it.
* in a child made by ``fork`` every launch runs on its caller (the pool's threads do
  not survive a fork), as in the JIT.
"""
from __future__ import annotations

from ....config import MAX_THREADS
from ..symbols import GOMP_SPIN_COUNT, HOME_BYTES, PARALLEL_HOMES_SYMBOL, PARALLEL_STATE_SYMBOL, PLACEMENT_KEY_SYMBOL

__all__ = ["RUNTIME_SOURCE", "runtime_api"]

RUNTIME_SOURCE = r"""
#define _GNU_SOURCE
#include <pthread.h>
#include <sched.h>
#include <stdint.h>
#include <stdlib.h>
#include <unistd.h>

#define HIDDEN __attribute__((visibility("hidden")))
#define MLC_MAX_THREADS %(max_threads)d
#define MLC_SPIN_COUNT %(spin)d

struct mlc_state { int32_t busy; int32_t num_threads; int64_t pooled; };
HIDDEN struct mlc_state %(state)s = {0, 1, 0};
HIDDEN int64_t %(homes)s[MLC_MAX_THREADS * %(home_words)d] __attribute__((aligned(%(home_bytes)d)));
HIDDEN unsigned int %(key)s;

typedef void (*mlc_task)(void *);
static pthread_mutex_t pool_lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_mutex_t launch_lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t pool_wake = PTHREAD_COND_INITIALIZER;
static pthread_cond_t pool_done = PTHREAD_COND_INITIALIZER;
static mlc_task pool_task;
static void *pool_data;
static int pool_team = 1, pool_workers = 0, forked = 0;
static unsigned long pool_generation = 0, pool_pending = 0;
static unsigned long created_at[MLC_MAX_THREADS];
static __thread int thread_num = 0, team_size = 1;

HIDDEN int omp_get_thread_num(void) { return thread_num; }
HIDDEN int omp_get_num_threads(void) { return team_size; }

static inline void cpu_relax(void) {
#if defined(__x86_64__) || defined(__i386__)
    __builtin_ia32_pause();
#elif defined(__aarch64__)
    __asm__ __volatile__("yield");
#endif
}

/* Spin up to MLC_SPIN_COUNT rounds for *value to differ from old; whether it did. */
static int spin_while_equal(const unsigned long *value, unsigned long old) {
    for (int n = 0; n < MLC_SPIN_COUNT; n++) {
        if (__atomic_load_n(value, __ATOMIC_ACQUIRE) != old) return 1;
        cpu_relax();
    }
    return 0;
}

static void *pool_worker(void *arg) {
    int me = (int)(intptr_t)arg;
    pthread_mutex_lock(&pool_lock);
    unsigned long seen = created_at[me];
    for (;;) {
        if (pool_generation == seen) {  /* spin a while before sleeping: launches come in runs */
            pthread_mutex_unlock(&pool_lock);
            spin_while_equal(&pool_generation, seen);
            pthread_mutex_lock(&pool_lock);
        }
        while (pool_generation == seen) pthread_cond_wait(&pool_wake, &pool_lock);
        seen = pool_generation;
        if (me < pool_team) {
            mlc_task task = pool_task;
            void *data = pool_data;
            int team = pool_team;
            pthread_mutex_unlock(&pool_lock);
            thread_num = me;
            team_size = team;
            task(data);
            pthread_mutex_lock(&pool_lock);
            if (__atomic_sub_fetch(&pool_pending, 1, __ATOMIC_ACQ_REL) == 0) pthread_cond_signal(&pool_done);
        }
    }
    return NULL;
}

HIDDEN void GOMP_parallel(mlc_task task, void *data, unsigned n, unsigned flags) {
    (void)flags;
    if (n > MLC_MAX_THREADS) n = MLC_MAX_THREADS;
    if (n <= 1 || forked) {
        thread_num = 0; team_size = 1; task(data); return;
    }
    pthread_mutex_lock(&launch_lock);
    pthread_mutex_lock(&pool_lock);
    while (pool_workers < (int)n - 1) {
        pthread_t thread;
        pthread_attr_t attr;
        int worker = pool_workers + 1;
        created_at[worker] = pool_generation;
        pthread_attr_init(&attr);
        pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
        int failed = pthread_create(&thread, &attr, pool_worker, (void *)(intptr_t)worker);
        pthread_attr_destroy(&attr);
        if (failed) break;
        pool_workers = worker;
    }
    unsigned long helpers = pool_workers < (int)n - 1 ? pool_workers : n - 1;
    pool_task = task; pool_data = data; pool_team = n; pool_pending = helpers;
    __atomic_add_fetch(&pool_generation, 1, __ATOMIC_RELEASE);
    pthread_cond_broadcast(&pool_wake);
    pthread_mutex_unlock(&pool_lock);
    thread_num = 0; team_size = n;
    task(data);
    team_size = 1;
    for (int k = 0; k < MLC_SPIN_COUNT && __atomic_load_n(&pool_pending, __ATOMIC_ACQUIRE) > 0; k++) cpu_relax();
    pthread_mutex_lock(&pool_lock);
    while (pool_pending > 0) pthread_cond_wait(&pool_done, &pool_lock);
    pthread_mutex_unlock(&pool_lock);
    pthread_mutex_unlock(&launch_lock);
}

static int clamp_threads(long n) {
    return n < 1 ? 1 : n > MLC_MAX_THREADS ? MLC_MAX_THREADS : (int)n;
}

static void after_fork_in_child(void) {
    forked = 1;
    pool_workers = 0;
    %(state)s.busy = 0;
    %(state)s.num_threads = 1;
}

__attribute__((constructor)) static void mlc_runtime_start(void) {
    pthread_key_t key;
    if (pthread_key_create(&key, NULL) == 0) %(key)s = (unsigned int)key;
    const char *env = getenv("MLC_NUM_THREADS");
    long n = env ? strtol(env, NULL, 10) : 0;
    if (n <= 0) {
        cpu_set_t cpus;
        n = sched_getaffinity(0, sizeof cpus, &cpus) == 0 ? CPU_COUNT(&cpus) : sysconf(_SC_NPROCESSORS_ONLN);
    }
    %(state)s.num_threads = clamp_threads(n);
    pthread_atfork(NULL, NULL, after_fork_in_child);
}
""" % {"max_threads": MAX_THREADS, "state": PARALLEL_STATE_SYMBOL, "homes": PARALLEL_HOMES_SYMBOL,
       "home_words": HOME_BYTES // 8, "spin": GOMP_SPIN_COUNT, "home_bytes": HOME_BYTES, "key": PLACEMENT_KEY_SYMBOL}


def runtime_api(prefix: str) -> str:
    """C source of the library's own thread-count functions, ``<prefix>set_num_threads(n)``
    (returns the count now in force) and ``<prefix>get_num_threads()``."""
    return f"""
int {prefix}set_num_threads(int n) {{
    if (!forked) {PARALLEL_STATE_SYMBOL}.num_threads = clamp_threads(n);
    return {PARALLEL_STATE_SYMBOL}.num_threads;
}}

int {prefix}get_num_threads(void) {{ return {PARALLEL_STATE_SYMBOL}.num_threads; }}
"""
