// C shims for NUMAHeap. Everything here is something Swift cannot express
// directly: variadic syscalls, `__thread` variables with the initial-exec TLS
// model, and macros such as MAP_FAILED. None of it allocates.
#ifndef NUMAHEAP_CPLATFORM_H
#define NUMAHEAP_CPLATFORM_H

#include <stddef.h>
#include <stdint.h>
// MPOL_* for Swift (MemoryBindPolicy, get_mempolicy's MPOL_F_ADDR); the kernel's
// UAPI header, since glibc declares none of them.
#include <linux/mempolicy.h>

#ifdef __cplusplus
extern "C" {
#endif

// MARK: Thread-local slots
//
// Each slot is one pointer-sized `__thread` variable with the initial-exec TLS
// model, so an access compiles to a single %fs-relative load or store once the
// `static inline` accessor is inlined into Swift. Slots are zero in a new
// thread. Their meaning belongs to the layer that uses them (see
// NUMAHEAP_TLS_* below); Platform only stores them.
enum {
    NUMAHEAP_TLS_CACHE = 0,      // NUMAHeap: the head of this thread's heap bindings.
    NUMAHEAP_TLS_SPARE = 1,      // Free for tests and future use.
    NUMAHEAP_TLS_SLOT_COUNT = 2
};

extern __thread void *numaheap_tls_slots[NUMAHEAP_TLS_SLOT_COUNT]
    __attribute__((tls_model("initial-exec")));

static inline __attribute__((always_inline)) void *numaheap_tls_get(int slot) {
    return numaheap_tls_slots[slot];
}
static inline __attribute__((always_inline)) void numaheap_tls_set(int slot, void *value) {
    numaheap_tls_slots[slot] = value;
}

// MARK: Memory mapping
//
// Thin wrappers that return NULL (not MAP_FAILED) on failure and leave errno
// set, so Swift needs no pointer-from-bit-pattern dance.

/// Reserves `length` bytes of address space (PROT_NONE, MAP_NORESERVE) near `hint`.
void *numaheap_mmap_reserve(void *hint, size_t length);
/// Maps `length` bytes readable and writable, anonymous and private, near `hint`.
void *numaheap_mmap_anonymous(void *hint, size_t length);
/// Makes a reserved range readable and writable (mprotect). 0 or -1 with errno.
int numaheap_commit(void *address, size_t length);
/// munmap. 0 or -1 with errno.
int numaheap_unmap(void *address, size_t length);
/// madvise. 0 or -1 with errno.
int numaheap_madvise(void *address, size_t length, int advice);
int numaheap_errno(void);

// MARK: NUMA syscalls (variadic `syscall` in C; Swift cannot call it)

long numaheap_mbind(void *address, unsigned long length, int mode,
                    const unsigned long *nodemask, unsigned long maxnode, unsigned flags);
long numaheap_get_mempolicy(int *mode, unsigned long *nodemask, unsigned long maxnode,
                            void *address, unsigned long flags);
long numaheap_move_pages(int pid, unsigned long count, void **pages,
                         const int *nodes, int *status, int flags);
/// getcpu(2): the CPU and node the calling thread runs on now. 0 or -1.
int numaheap_getcpu(unsigned *cpu, unsigned *node);
long numaheap_gettid(void);

/// Initialises a glibc adaptive mutex (PTHREAD_MUTEX_ADAPTIVE_NP) at `mutex`:
/// a contended lock spins a bounded while before it sleeps in futex.
/// Returns pthread_mutex_init's result.
int numaheap_mutex_init_adaptive(void *mutex);

// MARK: Errors
/// Writes `length` bytes to fd 2, retrying on EINTR and short writes. Never allocates.
void numaheap_write_stderr(const char *bytes, size_t length);
/// abort(), declared noreturn for Swift.
__attribute__((noreturn)) void numaheap_abort(void);
/// sysconf(_SC_PAGESIZE).
long sysconf_pagesize(void);


// MARK: Topology (SystemTopology reads sysfs before the heap exists)

/// Reads the whole file at `path` into `buffer` (at most `capacity` bytes) with
/// open/read/close, retrying on EINTR; never allocates. Stores the byte count in
/// `*length`. Returns 0, an errno value, or EFBIG when the file does not fit.
int numaheap_read_file(const char *path, char *buffer, size_t capacity, size_t *length);
/// The published SystemTopology snapshot's address; 0 until the first load.
/// Written once (compare-exchange, release), read with acquire. A C global, so
/// it is statically zero: no Swift lazy global (swift_once) in `malloc`.
extern uintptr_t numaheap_topology_snapshot;
static inline __attribute__((always_inline)) uintptr_t numaheap_topology_snapshot_load(void) {
    return __atomic_load_n(&numaheap_topology_snapshot, __ATOMIC_ACQUIRE);
}
/// Publishes `snapshot` if none is; returns 0 when it did, else the snapshot already published.
static inline __attribute__((always_inline)) uintptr_t numaheap_topology_snapshot_publish(uintptr_t snapshot) {
    uintptr_t expected = 0;
    __atomic_compare_exchange_n(&numaheap_topology_snapshot, &expected, snapshot, 0, __ATOMIC_ACQ_REL, __ATOMIC_ACQUIRE);
    return expected;
}
/// sched_getcpu(3): the calling thread's CPU now (glibc reads it from rseq or
/// the vDSO, no system call on current kernels); -1 with errno on failure.
int numaheap_sched_getcpu(void);
/// sched_setaffinity(2) / sched_getaffinity(2) of the calling thread (pid 0)
/// over a mask of `bytes` bytes; 0 or -1 with errno. Glibc declares them
/// only under _GNU_SOURCE, which its Swift module map leaves out.
int numaheap_sched_setaffinity(size_t bytes, const void *mask);
int numaheap_sched_getaffinity(size_t bytes, void *mask);

/// Eight of the 16 random bytes the kernel gives every process (AT_RANDOM);
/// 0 where the auxiliary vector has none. No system call.
uint64_t numaheap_auxv_random(void);

/// membarrier(2), MEMBARRIER_CMD_REGISTER_PRIVATE_EXPEDITED: lets this process
/// use ``numaheap_membarrier``. 0, or -1 with errno (kernels before 4.14, seccomp).
int numaheap_membarrier_register(void);
/// membarrier(2), MEMBARRIER_CMD_PRIVATE_EXPEDITED: every CPU that runs one of
/// this process's threads executes a full memory barrier before it returns.
/// 0, or -1 with errno (not registered).
int numaheap_membarrier(void);
/// A compiler-only barrier: no load or store moves across it at compile time
/// (it emits no instruction). The fast side of an asymmetric fence: its store,
/// this, then its load — the other side's ``numaheap_membarrier`` orders them.
static inline __attribute__((always_inline)) void numaheap_compiler_barrier(void) {
    __asm__ volatile("" ::: "memory");
}

/// Names the calling thread (at most 15 bytes are kept), as
/// pthread_setname_np does for itself: prctl(PR_SET_NAME). 0 or -1 with errno.
int numaheap_name_current_thread(const char *name);

// MARK: The linked allocator (a weak reference; Swift cannot declare one)

/// The state of the NUMAHeap heap that serves this process's `malloc` when the
/// NUMAHeapAllocator product is linked into the same image (its C side defines
/// `numaheap_allocator_state`, which this references weakly, so the link
/// resolves it only when the allocator is there); NULL otherwise — plain
/// programs, and programs whose `malloc` comes from libNUMAHeapMalloc.so under
/// LD_PRELOAD (that library exports nothing but the malloc family).
/// Initialises that heap if no `malloc` has yet. Does not allocate.
void *numaheap_linked_allocator_state(void);

// MARK: The malloc library's miss handlers

/// The full paths of the malloc library's `malloc` and `free`, which its
/// Swift fast-path leaves tail-call on a miss (the leaves live in NUMAHeap,
/// which cannot see the library's C code). Set once by the library before its
/// heap becomes ready; NULL in a process without it, where no leaf runs.
extern void *(*numaheap_malloc_miss_handler)(size_t size);
extern void (*numaheap_free_miss_handler)(void *pointer);
/// Calls the handler (a tail jump): what the leaves jump to.
void *numaheap_malloc_miss(size_t size);
void numaheap_free_miss(void *pointer);

#ifdef __cplusplus
}
#endif
#endif
