#define _GNU_SOURCE
#include "CPlatform.h"

#include <errno.h>
#include <stdlib.h>
#include <sys/mman.h>
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

int numaheap_decommit(void *address, size_t length) {
    // Mapping fresh PROT_NONE pages over the range both drops the old pages and
    // makes any later touch fault, which is what Go's sysFault/sysReserve pairing does.
    void *p = mmap(address, length, PROT_NONE,
                   MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE | MAP_FIXED, -1, 0);
    return p == MAP_FAILED ? -1 : 0;
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
