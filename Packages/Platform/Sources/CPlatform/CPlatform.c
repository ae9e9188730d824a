#define _GNU_SOURCE
#include "CPlatform.h"

#include <errno.h>
#include <pthread.h>
#include <fcntl.h>
#include <sched.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <string.h>
#include <sys/auxv.h>
#include <sys/prctl.h>
#include <linux/membarrier.h>
#include <sys/syscall.h>
#include <unistd.h>

__thread void *numaheap_tls_slots[NUMAHEAP_TLS_SLOT_COUNT]
    __attribute__((tls_model("initial-exec"))) = {0};

void *numaheap_mmap_reserve(void *hint, size_t length) {
    void *p = mmap(hint, length, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
    return p == MAP_FAILED ? NULL : p;
}

void *numaheap_mmap_anonymous(void *hint, size_t length) {
    void *p = mmap(hint, length, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    return p == MAP_FAILED ? NULL : p;
}

int numaheap_commit(void *address, size_t length) {
    return mprotect(address, length, PROT_READ | PROT_WRITE);
}

int numaheap_unmap(void *address, size_t length) { return munmap(address, length); }

int numaheap_madvise(void *address, size_t length, int advice) {
    return madvise(address, length, advice);
}

int numaheap_errno(void) { return errno; }

long numaheap_mbind(void *address, unsigned long length, int mode,
                    const unsigned long *nodemask, unsigned long maxnode, unsigned flags) {
    return syscall(SYS_mbind, address, length, mode, nodemask, maxnode, flags);
}

long numaheap_get_mempolicy(int *mode, unsigned long *nodemask, unsigned long maxnode,
                            void *address, unsigned long flags) {
    return syscall(SYS_get_mempolicy, mode, nodemask, maxnode, address, flags);
}

long numaheap_move_pages(int pid, unsigned long count, void **pages,
                         const int *nodes, int *status, int flags) {
    return syscall(SYS_move_pages, pid, count, pages, nodes, status, flags);
}

int numaheap_getcpu(unsigned *cpu, unsigned *node) {
    return (int)syscall(SYS_getcpu, cpu, node, NULL);
}

long numaheap_gettid(void) { return syscall(SYS_gettid); }

void numaheap_write_stderr(const char *bytes, size_t length) {
    while (length > 0) {
        ssize_t n = write(2, bytes, length);
        if (n < 0) {
            if (errno == EINTR) continue;
            return;
        }
        bytes += n;
        length -= (size_t)n;
    }
}

void numaheap_abort(void) { abort(); }

long sysconf_pagesize(void) { return sysconf(_SC_PAGESIZE); }

uintptr_t numaheap_topology_snapshot = 0;

int numaheap_read_file(const char *path, char *buffer, size_t capacity, size_t *length) {
    *length = 0;
    int fd;
    do { fd = open(path, O_RDONLY | O_CLOEXEC); } while (fd < 0 && errno == EINTR);
    if (fd < 0) return errno;
    size_t filled = 0;
    int result = 0;
    for (;;) {
        if (filled == capacity) {
            // Full: the file fits only if nothing is left to read.
            char probe;
            ssize_t n = read(fd, &probe, 1);
            if (n < 0 && errno == EINTR) continue;
            if (n != 0) result = n < 0 ? errno : EFBIG;
            break;
        }
        ssize_t n = read(fd, buffer + filled, capacity - filled);
        if (n < 0) {
            if (errno == EINTR) continue;
            result = errno;
            break;
        }
        if (n == 0) break;
        filled += (size_t)n;
    }
    close(fd);
    *length = filled;
    return result;
}

int numaheap_sched_getcpu(void) { return sched_getcpu(); }
int numaheap_sched_setaffinity(size_t bytes, const void *mask) { return sched_setaffinity(0, bytes, (const cpu_set_t *)mask); }
int numaheap_sched_getaffinity(size_t bytes, void *mask) { return sched_getaffinity(0, bytes, (cpu_set_t *)mask); }

uint64_t numaheap_auxv_random(void) {
    const void *bytes = (const void *)getauxval(AT_RANDOM);
    uint64_t value = 0;
    if (bytes) memcpy(&value, (const char *)bytes + 8, sizeof value);
    return value;
}

int numaheap_mutex_init_adaptive(void *mutex) {
    pthread_mutexattr_t attributes;
    int rc = pthread_mutexattr_init(&attributes);
    if (rc != 0) return rc;
    rc = pthread_mutexattr_settype(&attributes, PTHREAD_MUTEX_ADAPTIVE_NP);
    if (rc == 0) rc = pthread_mutex_init((pthread_mutex_t *)mutex, &attributes);
    pthread_mutexattr_destroy(&attributes);
    return rc;
}

// Defined by the NUMAHeapAllocator product's C side (CNUMAHeapMalloc); absent,
// the weak reference is NULL.
extern void *numaheap_allocator_state(void) __attribute__((weak));

void *numaheap_linked_allocator_state(void) {
    return numaheap_allocator_state != NULL ? numaheap_allocator_state() : NULL;
}

int numaheap_name_current_thread(const char *name) { return prctl(PR_SET_NAME, (unsigned long)name, 0, 0, 0); }

int numaheap_membarrier_register(void) {
    return (int)syscall(SYS_membarrier, MEMBARRIER_CMD_REGISTER_PRIVATE_EXPEDITED, 0, 0);
}

int numaheap_membarrier(void) { return (int)syscall(SYS_membarrier, MEMBARRIER_CMD_PRIVATE_EXPEDITED, 0, 0); }

void *(*numaheap_malloc_miss_handler)(size_t size);
void (*numaheap_free_miss_handler)(void *pointer);
void *numaheap_malloc_miss(size_t size) { return numaheap_malloc_miss_handler(size); }
void numaheap_free_miss(void *pointer) { numaheap_free_miss_handler(pointer); }
