// Memory comes back (run under LD_PRELOAD by run.sh): four threads allocate
// about 1 GiB in all of 16 B – 64 KiB blocks (sizes spread evenly over the
// powers of two), each thread frees the blocks of the next in a random order,
// and then every thread stays alive and idle. With the library's default
// configuration at least 90% of the RSS growth must be back with the system
// within 3 s of the last free. Prints the time it took, the RSS afterwards and
// the CPU time the background scavenger ("numaheap-scav") has used in all.
#define _GNU_SOURCE
#include <dirent.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

enum { THREADS = 4 };
static const size_t total_bytes = (size_t)1 << 30;

static long resident_bytes(void) {
    char b[128];
    int fd = open("/proc/self/statm", O_RDONLY);
    if (fd < 0) return -1;
    ssize_t n = read(fd, b, sizeof b - 1);
    close(fd);
    b[n > 0 ? n : 0] = 0;
    long size, resident;
    if (sscanf(b, "%ld %ld", &size, &resident) != 2) return -1;
    return resident * sysconf(_SC_PAGESIZE);
}

static double now(void) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + (double)t.tv_nsec / 1e9;
}

/// CPU seconds of this process's thread named `name` (utime + stime), or -1.
static double thread_cpu_seconds(const char *name) {
    DIR *d = opendir("/proc/self/task");
    if (d == NULL) return -1;
    double seconds = -1;
    for (struct dirent *e; (e = readdir(d)) != NULL;) {
        if (e->d_name[0] == '.') continue;
        char path[128], comm[64] = {0}, stat[1024] = {0};
        snprintf(path, sizeof path, "/proc/self/task/%s/comm", e->d_name);
        int fd = open(path, O_RDONLY);
        if (fd < 0) continue;
        ssize_t n = read(fd, comm, sizeof comm - 1);
        close(fd);
        if (n <= 0 || strncmp(comm, name, strlen(name)) != 0) continue;
        snprintf(path, sizeof path, "/proc/self/task/%s/stat", e->d_name);
        fd = open(path, O_RDONLY);
        if (fd < 0) continue;
        n = read(fd, stat, sizeof stat - 1);
        close(fd);
        const char *p = strrchr(stat, ')');  // fields after the command name
        unsigned long utime = 0, stime = 0;
        if (p && sscanf(p + 2, "%*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %lu %lu", &utime, &stime) == 2)
            seconds = (double)(utime + stime) / (double)sysconf(_SC_CLK_TCK);
    }
    closedir(d);
    return seconds;
}

static pthread_barrier_t allocated, freed, finished;
static void **lists[THREADS];
static size_t counts[THREADS];

static void *work(void *arg) {
    uintptr_t me = (uintptr_t)arg;
    uint64_t x = 88172645463325252ull ^ (me * 0x9e3779b97f4a7c15ull);
    size_t capacity = 1 << 20, n = 0, bytes = 0;
    void **p = malloc(capacity * sizeof *p);
    while (bytes < total_bytes / THREADS && n < capacity) {
        x ^= x << 13; x ^= x >> 7; x ^= x << 17;
        unsigned e = (unsigned)(x % 13);            // 16 B << 0 … 12: up to 64 KiB
        size_t size = ((size_t)16 << e) + (size_t)(x >> 8) % ((size_t)16 << e);
        if (size > (64 << 10)) size = 64 << 10;
        p[n] = malloc(size);
        if (p[n] == NULL) { fprintf(stderr, "malloc(%zu) failed\n", size); exit(2); }
        memset(p[n], (int)n, size);
        n++;
        bytes += size;
    }
    lists[me] = p;
    counts[me] = n;
    pthread_barrier_wait(&allocated);
    void **q = lists[(me + 1) % THREADS];
    size_t m = counts[(me + 1) % THREADS];
    for (size_t i = m - 1; i > 0; i--) {  // a random order
        x ^= x << 13; x ^= x >> 7; x ^= x << 17;
        size_t j = (size_t)(x % (i + 1));
        void *t = q[i]; q[i] = q[j]; q[j] = t;
    }
    for (size_t i = 0; i < m; i++) free(q[i]);
    pthread_barrier_wait(&freed);
    free(q);
    pthread_barrier_wait(&finished);  // alive and idle until the main thread is done
    return NULL;
}

int main(void) {
    pthread_barrier_init(&allocated, NULL, THREADS + 1);
    pthread_barrier_init(&freed, NULL, THREADS + 1);
    pthread_barrier_init(&finished, NULL, THREADS + 1);
    long base = resident_bytes();
    pthread_t t[THREADS];
    for (uintptr_t i = 0; i < THREADS; i++) pthread_create(&t[i], NULL, work, (void *)i);
    pthread_barrier_wait(&allocated);
    long peak = resident_bytes();
    pthread_barrier_wait(&freed);
    double start = now(), cpu_before = thread_cpu_seconds("numaheap-scav");
    long growth = peak - base, r = peak;
    double took = -1;
    while (now() - start < 3.0) {
        r = resident_bytes();
        if (peak - r >= growth / 10 * 9) { took = now() - start; break; }
        usleep(20000);
    }
    double cpu = thread_cpu_seconds("numaheap-scav");
    printf("growth %ld MiB (RSS %ld -> %ld MiB); ", growth >> 20, base >> 20, peak >> 20);
    if (took >= 0)
        printf("90%% back after %.2f s (RSS %ld MiB); ", took, r >> 20);
    else
        printf("only %.1f%% back after 3 s (RSS %ld MiB); ", 100.0 * (double)(peak - r) / (double)growth, r >> 20);
    printf("scavenger CPU %.2f s in all, %.2f s of it after the frees\n", cpu, cpu - cpu_before);
    pthread_barrier_wait(&finished);
    for (int i = 0; i < THREADS; i++) pthread_join(t[i], NULL);
    if (cpu < 0) { printf("no thread named numaheap-scav: is the library preloaded?\n"); return 1; }
    return took >= 0 ? 0 : 1;
}
