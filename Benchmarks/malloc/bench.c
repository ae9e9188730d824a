// Malloc workloads for comparing allocators through LD_PRELOAD (Benchmarks/malloc/run.sh).
// Each run is one workload in one process; it prints "ops/s peak-RSS-KiB" and
// exits 1 if any block's contents were damaged (every workload writes a pattern
// into what it allocates and checks it before freeing).
//
// usage: bench WORKLOAD [SCALE]   (WORKLOAD: pairs16 churn xthread sizemix large realloc larson)
//
// BENCH_THREADS=N (default 1; sizemix, larson and xthread: 2) runs pairs16,
// churn, sizemix and larson on N threads at once, each doing the one-thread
// work, and xthread as N/2 producer/consumer pairs (the thread-scaling runs in
// Docs/Benchmarks.md); ops/s is then the total over all threads.
#define _GNU_SOURCE
#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sched.h>
#include <time.h>

static double scale = 1.0;
static int threads = 0;  // BENCH_THREADS; 0: the workload's own default.
static _Atomic long corrupt;

static double now(void) { struct timespec t; clock_gettime(CLOCK_MONOTONIC, &t); return t.tv_sec + t.tv_nsec * 1e-9; }
static inline uint64_t xs(uint64_t *s) { *s ^= *s << 13; *s ^= *s >> 7; *s ^= *s << 17; return *s; }

// A block starts with its size and a tag; the first and last words carry the pattern.
static inline void stamp(void *p, size_t n, uint64_t tag) {
    uint64_t *w = p;
    w[0] = tag;
    if (n >= 16) w[1] = n;
    if (n >= 24) memcpy((char *)p + n - 8, &tag, 8);
}
static inline void check(void *p, size_t n, uint64_t tag) {
    uint64_t *w = p, last;
    int ok = w[0] == tag && (n < 16 || w[1] == n);
    if (n >= 24) { memcpy(&last, (char *)p + n - 8, 8); ok = ok && last == tag; }
    if (!ok) atomic_fetch_add(&corrupt, 1);
}

// 16-byte malloc+free pairs (the allocator's fastest path).
static long pairs16(void) {
    long n = (long)(20e6 * scale);
    for (long i = 0; i < n; i++) {
        void *volatile p = malloc(16);
        stamp(p, 16, (uint64_t)i);
        check(p, 16, (uint64_t)i);
        free(p);
    }
    return n;
}

// Small-object churn: a live set of 8192 blocks of 16..256 B, replaced at random.
static long churn(void) {
    enum { LIVE = 8192 };
    void *slot[LIVE] = {0};
    size_t size[LIVE];
    uint64_t s = 42;
    long n = (long)(10e6 * scale);
    for (long i = 0; i < n; i++) {
        uint64_t r = xs(&s);
        int k = r % LIVE;
        if (slot[k]) { check(slot[k], size[k], (uintptr_t)slot[k]); free(slot[k]); }
        size[k] = 16 + (r >> 20) % 241;
        slot[k] = malloc(size[k]);
        stamp(slot[k], size[k], (uintptr_t)slot[k]);
    }
    for (int k = 0; k < LIVE; k++) if (slot[k]) { check(slot[k], size[k], (uintptr_t)slot[k]); free(slot[k]); }
    return n;
}

// Producer/consumer: one thread allocates 32..128 B blocks and passes them
// through a ring; the other checks and frees them (every free is cross-thread).
// BENCH_THREADS=N (even, default 2) runs N/2 such pairs at once.
enum { RING = 4096 };
struct xpair { void *ring[RING]; _Atomic long head, tail; uint64_t seed; pthread_t consumer; };
static long xthread_n;

static void *consumer(void *arg) {
    struct xpair *x = arg;
    long h = 0;
    while (h < xthread_n) {
        long t = atomic_load_explicit(&x->tail, memory_order_acquire);
        if (h == t) { sched_yield(); continue; }
        for (; h < t; h++) {
            void *p = x->ring[h % RING];
            size_t n = ((uint64_t *)p)[1];
            check(p, n, (uint64_t)h);
            free(p);
        }
        atomic_store_explicit(&x->head, h, memory_order_release);
    }
    return NULL;
}

static void *producer(void *arg) {
    struct xpair *x = arg;
    pthread_create(&x->consumer, NULL, consumer, x);
    uint64_t s = x->seed;
    for (long i = 0; i < xthread_n; i++) {
        while (i - atomic_load_explicit(&x->head, memory_order_acquire) >= RING) sched_yield();
        size_t n = 32 + xs(&s) % 97;
        void *p = malloc(n);
        stamp(p, n, (uint64_t)i);
        x->ring[i % RING] = p;
        atomic_store_explicit(&x->tail, i + 1, memory_order_release);
    }
    pthread_join(x->consumer, NULL);
    return NULL;
}

static long xthread(void) {
    int pairs = threads > 1 ? threads / 2 : 1;
    xthread_n = (long)(5e6 * scale);
    struct xpair *x = calloc(pairs, sizeof *x);
    pthread_t *t = calloc(pairs, sizeof *t);
    for (int i = 0; i < pairs; i++) { x[i].seed = 7 + 2 * (uint64_t)i; pthread_create(&t[i], NULL, producer, &x[i]); }
    for (int i = 0; i < pairs; i++) pthread_join(t[i], NULL);
    free(t);
    free(x);
    return pairs * xthread_n;
}

// Size mix on two threads (BENCH_THREADS to change): mostly small, some medium
// (to 32 KiB), a few to 256 KiB.
static void *sizemix_thread(void *arg) {
    enum { LIVE = 2048 };
    void **slot = calloc(LIVE, sizeof *slot);
    size_t *size = calloc(LIVE, sizeof *size);
    uint64_t s = (uintptr_t)arg * 977 + 1;
    long n = (long)(2e6 * scale);
    for (long i = 0; i < n; i++) {
        uint64_t r = xs(&s);
        int k = r % LIVE;
        if (slot[k]) { check(slot[k], size[k], (uintptr_t)slot[k]); free(slot[k]); }
        unsigned c = (r >> 16) % 100;
        size[k] = c < 80 ? 16 + (r >> 24) % 512 : c < 98 ? 512 + (r >> 24) % 32256 : 32768 + (r >> 24) % 229376;
        slot[k] = malloc(size[k]);
        stamp(slot[k], size[k], (uintptr_t)slot[k]);
    }
    for (int k = 0; k < LIVE; k++) if (slot[k]) free(slot[k]);
    free(slot);
    free(size);
    return NULL;
}

static long sizemix(void) {
    int n = threads > 0 ? threads : 2;
    pthread_t *t = calloc(n, sizeof *t);
    for (long i = 0; i < n; i++) pthread_create(&t[i], NULL, sizemix_thread, (void *)i);
    for (int i = 0; i < n; i++) pthread_join(t[i], NULL);
    free(t);
    return (long)(n * 2e6 * scale);
}

// pairs16 or churn on BENCH_THREADS threads at once.
static long (*parallel_body)(void);
static void *parallel_thread(void *arg) { *(long *)arg = parallel_body(); return NULL; }
static long parallel(long (*body)(void)) {
    if (threads <= 1) return body();
    parallel_body = body;
    pthread_t *t = calloc(threads, sizeof *t);
    long *ops = calloc(threads, sizeof *ops);
    for (int i = 0; i < threads; i++) pthread_create(&t[i], NULL, parallel_thread, &ops[i]);
    long total = 0;
    for (int i = 0; i < threads; i++) { pthread_join(t[i], NULL); total += ops[i]; }
    free(t);
    free(ops);
    return total;
}
static long pairs16_n(void) { return parallel(pairs16); }
static long churn_n(void) { return parallel(churn); }

// Larson-style exchange (after Larson and Krishnan's server benchmark): each of
// BENCH_THREADS threads (default 2) holds an array of 1024 blocks of 16..512 B
// and replaces random ones, freeing the old block; after every 1024
// replacements it hands its array to the next thread in a ring and takes the
// previous thread's, so most blocks a thread frees were allocated by another.
enum { LARSON_LIVE = 1024, LARSON_EPOCH = 1024 };
struct larson_array { void *slot[LARSON_LIVE]; size_t size[LARSON_LIVE]; };
struct larson_box { _Atomic(struct larson_array *) array; char pad[56]; };
static struct larson_box *larson_boxes;
static int larson_threads;

static void larson_fill(struct larson_array *a, uint64_t *s) {
    for (int k = 0; k < LARSON_LIVE; k++) {
        a->size[k] = 16 + xs(s) % 497;
        a->slot[k] = malloc(a->size[k]);
        stamp(a->slot[k], a->size[k], (uintptr_t)a->slot[k]);
    }
}

static void *larson_thread(void *arg) {
    long me = (long)arg;
    uint64_t s = (uint64_t)me * 7919 + 3;
    struct larson_array *a = malloc(sizeof *a);
    larson_fill(a, &s);
    long epochs = (long)(2e6 * scale) / LARSON_EPOCH;
    struct larson_box *next = &larson_boxes[(me + 1) % larson_threads], *mine = &larson_boxes[me];
    for (long e = 0; e < epochs; e++) {
        for (int i = 0; i < LARSON_EPOCH; i++) {
            uint64_t r = xs(&s);
            int k = r % LARSON_LIVE;
            check(a->slot[k], a->size[k], (uintptr_t)a->slot[k]);
            free(a->slot[k]);
            a->size[k] = 16 + (r >> 20) % 497;
            a->slot[k] = malloc(a->size[k]);
            stamp(a->slot[k], a->size[k], (uintptr_t)a->slot[k]);
        }
        while (atomic_load_explicit(&next->array, memory_order_acquire) != NULL) sched_yield();
        atomic_store_explicit(&next->array, a, memory_order_release);
        while ((a = atomic_load_explicit(&mine->array, memory_order_acquire)) == NULL) sched_yield();
        atomic_store_explicit(&mine->array, NULL, memory_order_relaxed);
    }
    for (int k = 0; k < LARSON_LIVE; k++) { check(a->slot[k], a->size[k], (uintptr_t)a->slot[k]); free(a->slot[k]); }
    free(a);
    return NULL;
}

static long larson(void) {
    larson_threads = threads > 0 ? threads : 2;
    larson_boxes = calloc(larson_threads, sizeof *larson_boxes);
    pthread_t *t = calloc(larson_threads, sizeof *t);
    for (long i = 0; i < larson_threads; i++) pthread_create(&t[i], NULL, larson_thread, (void *)i);
    for (int i = 0; i < larson_threads; i++) pthread_join(t[i], NULL);
    free(t);
    free(larson_boxes);
    return larson_threads * ((long)(2e6 * scale) / LARSON_EPOCH) * LARSON_EPOCH;
}

// Large blocks: 256 KiB..4 MiB, a live set of 16, every page touched once.
static long large(void) {
    enum { LIVE = 16 };
    void *slot[LIVE] = {0};
    size_t size[LIVE];
    uint64_t s = 99;
    long n = (long)(20000 * scale);
    for (long i = 0; i < n; i++) {
        int k = xs(&s) % LIVE;
        if (slot[k]) { check(slot[k], size[k], (uintptr_t)slot[k]); free(slot[k]); }
        size[k] = (256 << 10) + xs(&s) % (((4 << 20) - (256 << 10)));
        char *p = malloc(size[k]);
        for (size_t o = 4096; o + 8 < size[k]; o += 4096) p[o] = 1;
        stamp(p, size[k], (uintptr_t)p);
        slot[k] = p;
    }
    for (int k = 0; k < LIVE; k++) if (slot[k]) free(slot[k]);
    return n;
}

// realloc growth: buffers grown from 16 B to 512 KiB in small steps (a string
// builder), the contents checked at the end of each buffer's life.
static long realloc_growth(void) {
    long ops = 0;
    long rounds = (long)(60 * scale);
    for (long r = 0; r < rounds; r++) {
        unsigned char *p = NULL;
        size_t n = 0;
        while (n < (512 << 10)) {
            size_t m = n + 16 + (n >> 6);
            p = realloc(p, m);
            for (size_t i = n; i < m; i++) p[i] = (unsigned char)i;
            n = m;
            ops++;
        }
        for (size_t i = 0; i < n; i += 97) if (p[i] != (unsigned char)i) atomic_fetch_add(&corrupt, 1);
        free(p);
    }
    return ops;
}

int main(int argc, char **argv) {
    if (argc < 2) { fprintf(stderr, "usage: bench pairs16|churn|xthread|sizemix|large|realloc|larson [scale]\n"); return 2; }
    if (argc > 2) scale = atof(argv[2]);
    const char *t = getenv("BENCH_THREADS");
    if (t != NULL) {
        char *end;
        long v = strtol(t, &end, 10);
        if (*t == 0 || *end != 0 || v < 1 || v > 1024) { fprintf(stderr, "BENCH_THREADS=%s: want 1..1024\n", t); return 2; }
        threads = (int)v;
    }
    struct { const char *name; long (*run)(void); } w[] = {
        {"pairs16", pairs16_n}, {"churn", churn_n}, {"xthread", xthread},
        {"sizemix", sizemix}, {"large", large}, {"realloc", realloc_growth}, {"larson", larson},
    };
    for (size_t i = 0; i < sizeof w / sizeof w[0]; i++) {
        if (strcmp(argv[1], w[i].name)) continue;
        double t0 = now();
        long ops = w[i].run();
        double t = now() - t0;
        struct rusage ru;
        getrusage(RUSAGE_SELF, &ru);
        if (corrupt) { fprintf(stderr, "%s: %ld damaged blocks\n", argv[1], (long)corrupt); return 1; }
        printf("%.0f %ld\n", ops / t, ru.ru_maxrss);
        return 0;
    }
    fprintf(stderr, "unknown workload %s\n", argv[1]);
    return 2;
}
