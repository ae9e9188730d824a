// The malloc family, exported with default visibility, each forwarding to the
// Swift side (Sources/NUMAHeapMalloc, @_cdecl "numaheap_*"). The Swift side
// holds the heap; this file keeps what is easier or safer in C: argument
// checks that glibc makes, errno, the NUMAHEAP_* options, the bootstrap area,
// fork handlers and the exit report.
//
// Two products carry it. In libNUMAHeapMalloc.so (LD_PRELOAD) only the
// functions in Sources/NUMAHeapMallocPreload/exports.map are exported;
// everything else in the library (the Swift runtime included, linked
// statically) is local, so the calls below bind directly, without the PLT.
// Linked into an executable (the NUMAHeapAllocator product), the executable's
// definitions come first in the dynamic linker's search order, so libc's and
// every shared library's calls to malloc reach these.
#define _GNU_SOURCE
#include "CNUMAHeapMalloc.h"
#include "CPlatform.h"  // numaheap_tls_get: the thread-local slots (Platform)

#include <errno.h>
#include <limits.h>
#include <malloc.h>
#include <stdbool.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>

#define EXPORT __attribute__((visibility("default")))

// MARK: The Swift side (Sources/NUMAHeapMalloc/Malloc.swift)

// Called with this thread's guard set (numaheap_malloc_depth = 1).
void *numaheap_malloc(size_t size);
void *numaheap_calloc(size_t size);
void numaheap_free(void *pointer);
void *numaheap_realloc(void *pointer, size_t size);
void *numaheap_aligned(size_t alignment, size_t size);
// Called when the thread is already inside the heap (a re-entrant call).
void numaheap_free_reentrant(void *pointer);
void *numaheap_realloc_reentrant(void *pointer, size_t size);
size_t numaheap_usable_size(void *pointer);
void numaheap_fork_prepare(void);
void numaheap_fork_parent(void);
void numaheap_fork_child(void);
void numaheap_exit_report(void);
void numaheap_initialize(void);
size_t numaheap_trim(void);
void numaheap_figures(numaheap_malloc_figures *figures);

void numaheap_malloc_set_errno(int value) { errno = value; }

// The name messages give this allocator. The preloadable library's own target
// (Sources/NUMAHeapMallocPreload) defines it again, strongly.
__attribute__((weak)) const char numaheap_malloc_library_name[] = "NUMAHeapAllocator";

// MARK: The heap's own fast paths (Sources/NUMAHeap/Malloc/MallocEntryPoints.swift)

// The heap's state once it is ready (NULL before): malloc and free call the
// heap's C-callable fast paths with it directly, one call deep.
// `bindings` is the thread's NUMAHEAP_TLS_CACHE slot, read here where clang
// inlines the TLS access (Swift calls the accessor out of line in this build).
void *numaheap_core_malloc(void *state, size_t size, void *bindings);
bool numaheap_core_free(void *state, void *pointer, void *bindings);
// Leaf fast paths (MallocEntryPoints.swift): a bin pop or span bit, a
// checked bin push; on a hit they clear `*guard`, on a miss they tail-call
// CPlatform's numaheap_malloc_miss / numaheap_free_miss, which call the
// handlers set below (malloc_miss, free_miss), guard still set.
void *numaheap_core_malloc_fast(void *state, size_t size, int *guard, void *bindings);
void numaheap_core_free_fast(void *state, void *pointer, int *guard, void *bindings);
static void *numaheap_ready_state;
static void *malloc_miss(size_t size);
static void free_miss(void *pointer);

void numaheap_malloc_set_ready_state(void *state) {
    // The handlers first: a leaf runs only once the state is published.
    numaheap_malloc_miss_handler = malloc_miss;
    numaheap_free_miss_handler = free_miss;
    __atomic_store_n(&numaheap_ready_state, state, __ATOMIC_RELEASE);
}

static inline void *ready_state(void) { return __atomic_load_n(&numaheap_ready_state, __ATOMIC_ACQUIRE); }

// MARK: The re-entrancy guard

__thread int numaheap_malloc_depth __attribute__((tls_model("initial-exec")));

static inline int inside(void) { return __builtin_expect(numaheap_malloc_depth != 0, 0); }

// MARK: Idle-cache reclaim (the other half of the guard)
//
// The background scavenger may take an idle thread's cached blocks and spans
// back (HeapCore.trimThreads): it sets this thread's `numaheap_malloc_reclaim`,
// issues membarrier(PRIVATE_EXPEDITED) — a full barrier on every CPU running
// one of the process's threads — and then reads `numaheap_malloc_depth`: 1
// means the thread is inside the heap, and it gives up. Here, after the guard
// is set, the flag is read: 1 means the scavenger is emptying this thread's
// cache, so the thread steps out and waits for it. Either the scavenger sees
// the guard, or this thread sees the flag (an asymmetric Dekker: the barrier
// is all on the scavenger's side; here only the compiler may not reorder).
__thread int numaheap_malloc_reclaim __attribute__((tls_model("initial-exec")));

__attribute__((noinline)) static void wait_for_reclaim(void) {
    numaheap_malloc_depth = 0;
    while (__atomic_load_n(&numaheap_malloc_reclaim, __ATOMIC_ACQUIRE)) sched_yield();
    numaheap_malloc_depth = 1;
    __asm__ volatile("" ::: "memory");
}

/// Sets the guard and answers whether the scavenger is emptying this thread's
/// cache (then the caller waits, out of line: wait_for_reclaim).
static inline __attribute__((always_inline)) bool enter_sees_reclaim(void) {
    numaheap_malloc_depth = 1;
    __asm__ volatile("" ::: "memory");  // the flag is read after the guard is set
    return __builtin_expect(__atomic_load_n(&numaheap_malloc_reclaim, __ATOMIC_RELAXED), 0);
}

/// Sets the guard, then makes sure the scavenger is not emptying this thread's cache.
static inline __attribute__((always_inline)) void enter(void) {
    if (enter_sees_reclaim()) wait_for_reclaim();
}

static inline __attribute__((always_inline)) void leave(void) {
    __asm__ volatile("" ::: "memory");
    numaheap_malloc_depth = 0;
}

__attribute__((weak)) extern const int numaheap_malloc_private_heap;

int numaheap_malloc_heap_is_private(void) {
    return &numaheap_malloc_private_heap != NULL && numaheap_malloc_private_heap != 0;
}

void numaheap_malloc_thread_guards(int **depth, int **reclaim) {
    *depth = &numaheap_malloc_depth;
    *reclaim = &numaheap_malloc_reclaim;
}

// MARK: When the heap may start
//
// The preloadable library carries its own Swift runtime, linked in statically
// and optimised across modules, so its heap can start at the process's first
// malloc, before any other initialiser has run. The linked allocator
// (NUMAHeapAllocator) runs on the process's shared Swift runtime and libraries,
// which know their types only once their initialisers have registered them:
// code that needs a type's metadata (an unspecialised generic, as in a debug
// build) finds none before that. So until this file's constructor runs —
// after every shared library's initialiser, since the executable's come last
// — the linked allocator serves malloc from the bootstrap area, and the heap
// starts in the constructor.

// 1 once the heap may start (the constructor ran, or the image defines
// numaheap_malloc_starts_at_first_call as 1, as the preloadable library does).
__attribute__((weak)) extern const int numaheap_malloc_starts_at_first_call;
static int constructor_ran;

static inline int waiting_for_start(void) {
    if (__atomic_load_n(&constructor_ran, __ATOMIC_ACQUIRE)) return 0;
    return &numaheap_malloc_starts_at_first_call == NULL || numaheap_malloc_starts_at_first_call == 0;
}

/// Served from the bootstrap area: a call from inside the heap, or one before the heap may start.
static inline int use_bootstrap(void) { return inside() || __builtin_expect(waiting_for_start(), 0); }

/// A call made from inside the heap: the bootstrap area (zero-filled, never reused).
__attribute__((noinline)) static void *reentrant_allocate(size_t size, size_t alignment) {
    void *p = numaheap_bootstrap_allocate(size, alignment);
    if (p == NULL) errno = ENOMEM;
    return p;
}

#define GUARDED(call) ({ enter(); __typeof__(call) r_ = (call); leave(); r_; })

// MARK: Exported functions

// The exported symbols are interposable, so calls between them inside the
// library would go through the PLT; they share these static bodies instead.
__attribute__((noinline)) static void *malloc_full(size_t size);
__attribute__((noinline)) static void free_full(void *pointer);

// The leaf fast paths first, tail-called: a miss, a re-entrant call or a
// heap not yet ready takes the full path. The leaves call nothing but their
// miss handler, so nothing they run can re-enter malloc; the guard is still
// set around them for a signal handler that calls malloc or free while this
// thread is inside one (not async-signal-safe, but glibc programs do it): the
// handler then gets the bootstrap area, or its free is left alone (a small
// leak), instead of racing the thread's own bin. The leaf clears the guard
// itself on a hit (a release store, after its writes to the bin) and
// tail-calls the miss handler, guard still set, on a miss — so the exported
// function ends in a jump and keeps nothing in a register across a call.
__attribute__((noinline)) static void *malloc_miss(size_t size) {  // guard set by the caller of the leaf
    leave();
    return malloc_full(size);
}

__attribute__((noinline)) static void free_miss(void *pointer) {
    leave();
    free_full(pointer);
}

// A reclaim in progress (the flag seen after the guard was set): wait for it
// out of line, then the leaf, so that the fast path keeps nothing across a call.
__attribute__((noinline)) static void *malloc_after_reclaim(void *state, size_t size) {
    wait_for_reclaim();
    return numaheap_core_malloc_fast(state, size, &numaheap_malloc_depth, numaheap_tls_get(NUMAHEAP_TLS_CACHE));
}

__attribute__((noinline)) static void free_after_reclaim(void *state, void *pointer) {
    wait_for_reclaim();
    numaheap_core_free_fast(state, pointer, &numaheap_malloc_depth, numaheap_tls_get(NUMAHEAP_TLS_CACHE));
}

static inline void *malloc_impl(size_t size) {
    void *state = ready_state();
    if (__builtin_expect(state != NULL && !inside(), 1)) {
        if (enter_sees_reclaim()) return malloc_after_reclaim(state, size);
        return numaheap_core_malloc_fast(state, size, &numaheap_malloc_depth, numaheap_tls_get(NUMAHEAP_TLS_CACHE));
    }
    return malloc_full(size);
}

static inline void free_impl(void *pointer) {
    void *state = ready_state();
    if (__builtin_expect(state != NULL && !inside(), 1)) {
        if (enter_sees_reclaim()) {
            free_after_reclaim(state, pointer);
            return;
        }
        numaheap_core_free_fast(state, pointer, &numaheap_malloc_depth, numaheap_tls_get(NUMAHEAP_TLS_CACHE));
        return;
    }
    free_full(pointer);
}

static void *malloc_full(size_t size) {
    if (use_bootstrap()) return reentrant_allocate(size, 16);
    void *state = ready_state();
    enter();
    void *p = __builtin_expect(state != NULL, 1) ? numaheap_core_malloc(state, size, numaheap_tls_get(NUMAHEAP_TLS_CACHE)) : NULL;
    if (__builtin_expect(p == NULL, 0)) p = numaheap_malloc(size);  // Not ready yet, or errno to set.
    leave();
    return p;
}

static void free_full(void *pointer) {
    if (pointer == NULL) return;
    if (use_bootstrap()) { numaheap_free_reentrant(pointer); return; }
    void *state = ready_state();
    enter();
    if (__builtin_expect(state == NULL || !numaheap_core_free(state, pointer, numaheap_tls_get(NUMAHEAP_TLS_CACHE)), 0)) numaheap_free(pointer);
    leave();
}

static inline void *realloc_impl(void *pointer, size_t size) {
    if (pointer == NULL) return malloc_impl(size);
    if (size == 0) {  // glibc: free and return NULL.
        free_impl(pointer);
        return NULL;
    }
    if (use_bootstrap()) return numaheap_realloc_reentrant(pointer, size);
    return GUARDED(numaheap_realloc(pointer, size));
}

EXPORT void *malloc(size_t size) { return malloc_impl(size); }

EXPORT void free(void *pointer) { free_impl(pointer); }

EXPORT void cfree(void *pointer) { free_impl(pointer); }

EXPORT void *calloc(size_t count, size_t size) {
    size_t total;
    if (__builtin_mul_overflow(count, size, &total)) {
        errno = ENOMEM;
        return NULL;
    }
    if (use_bootstrap()) return reentrant_allocate(total, 16);
    return GUARDED(numaheap_calloc(total));
}

EXPORT void *realloc(void *pointer, size_t size) { return realloc_impl(pointer, size); }

EXPORT void *reallocarray(void *pointer, size_t count, size_t size) {
    size_t total;
    if (__builtin_mul_overflow(count, size, &total)) {
        errno = ENOMEM;
        return NULL;
    }
    return realloc_impl(pointer, total);
}

static inline int is_power_of_two(size_t n) { return n != 0 && (n & (n - 1)) == 0; }

static void *aligned(size_t alignment, size_t size) {
    if (use_bootstrap()) return alignment <= 4096 ? reentrant_allocate(size, alignment) : (errno = ENOMEM, NULL);
    return GUARDED(numaheap_aligned(alignment, size));
}

EXPORT int posix_memalign(void **result, size_t alignment, size_t size) {
    if (!is_power_of_two(alignment) || alignment % sizeof(void *) != 0) return EINVAL;
    int saved = errno;
    void *p = aligned(alignment, size);
    if (p == NULL) {
        int e = errno;
        errno = saved;
        return e == EINVAL ? EINVAL : ENOMEM;
    }
    *result = p;
    return 0;
}

EXPORT void *aligned_alloc(size_t alignment, size_t size) {
    if (!is_power_of_two(alignment)) {  // glibc accepts any power of two (C17 drops the multiple rule).
        errno = EINVAL;
        return NULL;
    }
    return aligned(alignment, size);
}

EXPORT void *memalign(size_t alignment, size_t size) {
    // glibc: an alignment that is not a power of two is rounded up to one.
    if (!is_power_of_two(alignment)) {
        if (alignment > ((size_t)1 << (sizeof(size_t) * 8 - 1))) {
            errno = EINVAL;
            return NULL;
        }
        size_t a = 1;
        while (a < alignment) a <<= 1;
        alignment = a;
    }
    return aligned(alignment, size);
}

static size_t system_page_size(void) {
    static size_t cached;
    size_t p = __atomic_load_n(&cached, __ATOMIC_RELAXED);
    if (p == 0) {
        long v = sysconf(_SC_PAGESIZE);
        p = v > 0 ? (size_t)v : 4096;
        __atomic_store_n(&cached, p, __ATOMIC_RELAXED);
    }
    return p;
}

EXPORT void *valloc(size_t size) { return aligned(system_page_size(), size); }

EXPORT void *pvalloc(size_t size) {
    size_t page = system_page_size();
    if (size > SIZE_MAX - page) {
        errno = ENOMEM;
        return NULL;
    }
    size_t rounded = size == 0 ? page : (size + page - 1) & ~(page - 1);
    return aligned(page, rounded);
}

EXPORT size_t malloc_usable_size(void *pointer) {
    if (pointer == NULL) return 0;
    return numaheap_usable_size(pointer);
}

// MARK: The rest of glibc's malloc family

// malloc_trim(3): every free page goes back to the system now — the calling
// thread's cached blocks and spans, what other threads hold for reuse (those
// not in use at that moment), the central lists' kept spans — whatever `pad`
// says (NUMAHeap keeps no top chunk to pad). 1 when memory was released.
EXPORT int malloc_trim(size_t pad) {
    (void)pad;
    if (inside() || ready_state() == NULL) return 0;
    return GUARDED(numaheap_trim()) > 0 ? 1 : 0;
}

// malloc_stats(3): the NUMAHEAP_STATS report, on stderr, now.
EXPORT void malloc_stats(void) {
    if (inside() || ready_state() == NULL) return;
    enter();
    numaheap_exit_report();
    leave();
}

static numaheap_malloc_figures current_figures(void) {
    numaheap_malloc_figures f = {0};
    if (!inside() && ready_state() != NULL) {
        enter();
        numaheap_figures(&f);
        leave();
    }
    return f;
}

// mallinfo2(3) from the heap's figures (Docs/Malloc.md has the table): arena is
// the memory committed for pages, uordblks what spans in use hold, fordblks
// and keepcost the free pages still backed (what malloc_trim would return),
// ordblks the live blocks; the fields for glibc's fastbins and mmap'd chunks
// are 0 (every block lives in the arenas).
EXPORT struct mallinfo2 mallinfo2(void) {
    numaheap_malloc_figures f = current_figures();
    size_t free_backed = f.committed_bytes - f.in_use_bytes - f.released_bytes;
    if (f.in_use_bytes + f.released_bytes > f.committed_bytes) free_backed = 0;  // figures read node by node
    return (struct mallinfo2){
        .arena = f.committed_bytes, .ordblks = f.live_blocks, .smblks = 0, .hblks = 0, .hblkhd = 0,
        .usmblks = 0, .fsmblks = 0, .uordblks = f.in_use_bytes, .fordblks = free_backed, .keepcost = free_backed,
    };
}

static int saturated(size_t n) { return n > (size_t)INT_MAX ? INT_MAX : (int)n; }

// mallinfo(3): mallinfo2's figures in int fields, saturating at INT_MAX
// (glibc's wrap around past 2 GiB).
EXPORT struct mallinfo mallinfo(void) {
    struct mallinfo2 m = mallinfo2();
    return (struct mallinfo){
        .arena = saturated(m.arena), .ordblks = saturated(m.ordblks), .smblks = saturated(m.smblks),
        .hblks = saturated(m.hblks), .hblkhd = saturated(m.hblkhd), .usmblks = saturated(m.usmblks),
        .fsmblks = saturated(m.fsmblks), .uordblks = saturated(m.uordblks), .fordblks = saturated(m.fordblks),
        .keepcost = saturated(m.keepcost),
    };
}

// mallopt(3): glibc's parameters are accepted or refused by glibc's rules
// (M_MXFAST at most 80 × sizeof(size_t) / 4; M_MMAP_THRESHOLD at most 32 MiB)
// and otherwise change nothing — NUMAHeap has no fastbins, top chunk, mmap
// threshold or arena count to set; its own settings are the NUMAHEAP_*
// variables. An unknown parameter returns 0 (glibc's code returns 1).
EXPORT int mallopt(int param, int value) {
    switch (param) {
    case M_MXFAST: return value >= 0 && (size_t)value <= 80 * sizeof(size_t) / 4;
    case M_MMAP_THRESHOLD: return value >= 0 && (size_t)value <= (size_t)32 << 20;
    case M_TRIM_THRESHOLD: case M_TOP_PAD: case M_MMAP_MAX: case M_CHECK_ACTION:
    case M_PERTURB: case M_ARENA_TEST: case M_ARENA_MAX:
        return 1;
    default:
        return 0;
    }
}

// MARK: Reporting without allocating

void numaheap_malloc_write_line(const char *text) {
    size_t n = strlen(text);
    char buffer[512];
    if (n > sizeof buffer - 1) n = sizeof buffer - 1;
    memcpy(buffer, text, n);
    buffer[n++] = '\n';
    size_t done = 0;
    while (done < n) {
        ssize_t w = write(2, buffer + done, n - done);
        if (w < 0 && errno == EINTR) continue;
        if (w <= 0) break;
        done += (size_t)w;
    }
}

typedef struct line { char text[512]; size_t count; } line;

static void put(line *l, const char *s) {
    while (*s && l->count < sizeof l->text - 1) l->text[l->count++] = *s++;
    l->text[l->count] = 0;
}

static void put_hex(line *l, uintptr_t v) {
    char digits[2 + 16 + 1];
    int n = 0;
    char tmp[16];
    int t = 0;
    do { tmp[t++] = "0123456789abcdef"[v & 15]; v >>= 4; } while (v);
    digits[n++] = '0'; digits[n++] = 'x';
    while (t) digits[n++] = tmp[--t];
    digits[n] = 0;
    put(l, digits);
}

static void put_decimal(line *l, long long v) {
    char tmp[24];
    int t = 0;
    unsigned long long m = v < 0 ? -(unsigned long long)v : (unsigned long long)v;
    do { tmp[t++] = (char)('0' + m % 10); m /= 10; } while (m);
    if (v < 0) put(l, "-");
    char out[24];
    int n = 0;
    while (t) out[n++] = tmp[--t];
    out[n] = 0;
    put(l, out);
}

void numaheap_malloc_invalid_pointer(const char *operation, const void *pointer) {
    line l = { .count = 0 };
    put(&l, operation);
    put(&l, "(): invalid pointer ");
    put_hex(&l, (uintptr_t)pointer);
    put(&l, " (NUMAHeap: not allocated by ");
    put(&l, numaheap_malloc_library_name);
    put(&l, ")");
    numaheap_malloc_write_line(l.text);
    abort();
}

// MARK: Bootstrap area

// .bss: costs nothing until touched.
#define BOOTSTRAP_BYTES (8u << 20)
static unsigned char bootstrap_area[BOOTSTRAP_BYTES] __attribute__((aligned(4096)));
static size_t bootstrap_used;  // atomic

void *numaheap_bootstrap_allocate(size_t size, size_t alignment) {
    if (alignment < 16) alignment = 16;
    if (size > BOOTSTRAP_BYTES || alignment > 4096) return NULL;
    size_t used = __atomic_load_n(&bootstrap_used, __ATOMIC_RELAXED);
    for (;;) {
        // A 16-byte header before the block holds its size.
        size_t start = (used + 16 + alignment - 1) & ~(alignment - 1);
        size_t end = (start + size + 15) & ~(size_t)15;
        if (end > BOOTSTRAP_BYTES) return NULL;
        if (__atomic_compare_exchange_n(&bootstrap_used, &used, end, 0, __ATOMIC_ACQ_REL, __ATOMIC_RELAXED)) {
            *(size_t *)(bootstrap_area + start - 16) = size;
            return bootstrap_area + start;
        }
    }
}

int numaheap_bootstrap_owns(const void *pointer) {
    uintptr_t p = (uintptr_t)pointer, base = (uintptr_t)bootstrap_area;
    return p >= base && p < base + BOOTSTRAP_BYTES;
}

size_t numaheap_bootstrap_size(const void *pointer) { return *(const size_t *)((const unsigned char *)pointer - 16); }

// MARK: Options

/// The options read at initialisation (for the exit report).
static numaheap_malloc_options numaheap_malloc_active_options;

extern char **environ;

// Before libc's initialisers run, `environ` may not be set yet: read the
// initial environment from /proc/self/environ then (raw syscalls, static buffer).
static char proc_environ[64 << 10];
static size_t proc_environ_bytes;
static int proc_environ_read;

static const char *environment(const char *name) {
    size_t n = strlen(name);
    if (environ != NULL) {
        for (char **e = environ; *e; e++)
            if (strncmp(*e, name, n) == 0 && (*e)[n] == '=') return *e + n + 1;
        return NULL;
    }
    if (!proc_environ_read) {
        proc_environ_read = 1;
        int fd = (int)syscall(SYS_openat, AT_FDCWD, "/proc/self/environ", O_RDONLY | O_CLOEXEC);
        if (fd >= 0) {
            for (;;) {
                long r = syscall(SYS_read, fd, proc_environ + proc_environ_bytes,
                                 sizeof proc_environ - 1 - proc_environ_bytes);
                if (r <= 0) break;
                proc_environ_bytes += (size_t)r;
            }
            syscall(SYS_close, fd);
        }
        proc_environ[proc_environ_bytes] = 0;
    }
    for (size_t i = 0; i < proc_environ_bytes;) {
        const char *e = proc_environ + i;
        if (strncmp(e, name, n) == 0 && e[n] == '=') return e + n + 1;
        i += strlen(e) + 1;
    }
    return NULL;
}

static void bad_value(const char *name, const char *value, const char *expected, const char *fallback) {
    line l = { .count = 0 };
    put(&l, "NUMAHeap: ignoring ");
    put(&l, name);
    put(&l, "=");
    put(&l, value);
    put(&l, ": expected ");
    put(&l, expected);
    put(&l, "; using the default (");
    put(&l, fallback);
    put(&l, ")");
    numaheap_malloc_write_line(l.text);
}

/// Parses a non-negative decimal integer that fills the whole string.
static int parse_integer(const char *s, long long *out) {
    if (*s == 0) return 0;
    long long v = 0;
    for (; *s; s++) {
        if (*s < '0' || *s > '9') return 0;
        if (v > (INT64_MAX - 9) / 10) return 0;
        v = v * 10 + (*s - '0');
    }
    *out = v;
    return 1;
}

// Digits with an optional K, M, G or T suffix (powers of 1024); 0 = no limit.
static int parse_size(const char *v, long long *out) {
    char digits[32];
    size_t n = strlen(v);
    int shift = 0;
    if (n == 0 || n >= sizeof digits) return 0;
    memcpy(digits, v, n + 1);
    switch (digits[n - 1]) {
    case 'k': case 'K': shift = 10; break;
    case 'm': case 'M': shift = 20; break;
    case 'g': case 'G': shift = 30; break;
    case 't': case 'T': shift = 40; break;
    default: break;
    }
    if (shift) digits[n - 1] = 0;
    long long value;
    if (!parse_integer(digits, &value) || value > (INT64_MAX >> shift)) return 0;
    *out = value << shift;
    return 1;
}

static int parse_bool(const char *s, int *out) {
    if (!strcmp(s, "1") || !strcmp(s, "true") || !strcmp(s, "yes") || !strcmp(s, "on")) { *out = 1; return 1; }
    if (!strcmp(s, "0") || !strcmp(s, "false") || !strcmp(s, "no") || !strcmp(s, "off")) { *out = 0; return 1; }
    return 0;
}

void numaheap_malloc_read_options(numaheap_malloc_options *o) {
    *o = (numaheap_malloc_options){
        .numa = NUMAHEAP_OPT_NUMA_AUTOMATIC, .numa_node = 0,
        .scavenger_enabled = 1, .retain_extra_percent = 10, .retain_peak_ms = 1000,
        .release = NUMAHEAP_OPT_RELEASE_DONTNEED, .thp = NUMAHEAP_OPT_THP_DEFAULT,
        .checks = NUMAHEAP_OPT_CHECKS_STANDARD,
        .memory_limit = 0, .stats = 0, .verbose = 0,
    };
    const char *v;
    if ((v = environment("NUMAHEAP_NUMA"))) {
        long long node;
        if (!strcmp(v, "automatic") || !strcmp(v, "auto")) o->numa = NUMAHEAP_OPT_NUMA_AUTOMATIC;
        else if (!strcmp(v, "disabled") || !strcmp(v, "off")) o->numa = NUMAHEAP_OPT_NUMA_DISABLED;
        else if (!strcmp(v, "interleave")) o->numa = NUMAHEAP_OPT_NUMA_INTERLEAVE;
        else if (!strncmp(v, "bind:", 5) && parse_integer(v + 5, &node) && node < 1024) {
            o->numa = NUMAHEAP_OPT_NUMA_BIND;
            o->numa_node = (int)node;
        } else bad_value("NUMAHEAP_NUMA", v, "automatic, disabled, interleave or bind:NODE", "automatic");
    }
    if ((v = environment("NUMAHEAP_SCAVENGER"))) {
        long long percent;
        if (!strcmp(v, "background")) o->scavenger_enabled = 1;
        else if (!strcmp(v, "disabled") || !strcmp(v, "off")) o->scavenger_enabled = 0;
        else if (!strncmp(v, "background:", 11) && parse_integer(v + 11, &percent) && percent <= 10000) {
            o->scavenger_enabled = 1;
            o->retain_extra_percent = (int)percent;
        } else bad_value("NUMAHEAP_SCAVENGER", v, "background, background:PERCENT or disabled", "background:10");
    }
    if ((v = environment("NUMAHEAP_RETAIN_PEAK_MS"))) {
        long long ms;
        if (parse_integer(v, &ms) && ms <= 3600000) o->retain_peak_ms = (int)ms;
        else bad_value("NUMAHEAP_RETAIN_PEAK_MS", v, "milliseconds from 0 to 3600000", "1000");
    }
    if ((v = environment("NUMAHEAP_RELEASE"))) {
        if (!strcmp(v, "dontneed")) o->release = NUMAHEAP_OPT_RELEASE_DONTNEED;
        else if (!strcmp(v, "free")) o->release = NUMAHEAP_OPT_RELEASE_FREE;
        else bad_value("NUMAHEAP_RELEASE", v, "dontneed or free", "dontneed");
    }
    if ((v = environment("NUMAHEAP_THP"))) {
        if (!strcmp(v, "default")) o->thp = NUMAHEAP_OPT_THP_DEFAULT;
        else if (!strcmp(v, "always")) o->thp = NUMAHEAP_OPT_THP_ALWAYS;
        else if (!strcmp(v, "never")) o->thp = NUMAHEAP_OPT_THP_NEVER;
        else bad_value("NUMAHEAP_THP", v, "default, always or never", "default");
    }
    if ((v = environment("NUMAHEAP_CHECKS"))) {
        if (!strcmp(v, "standard")) o->checks = NUMAHEAP_OPT_CHECKS_STANDARD;
        else if (!strcmp(v, "full")) o->checks = NUMAHEAP_OPT_CHECKS_FULL;
        else bad_value("NUMAHEAP_CHECKS", v, "standard or full", "standard");
    }
    long long bytes;
    if ((v = environment("NUMAHEAP_MEMORY_LIMIT"))) {
        if (parse_size(v, &bytes)) o->memory_limit = bytes;
        else bad_value("NUMAHEAP_MEMORY_LIMIT", v, "a byte count with an optional K, M, G or T suffix", "no limit");
    }
    if ((v = environment("NUMAHEAP_ADDRESS_SPACE_LIMIT"))) {
        if (parse_size(v, &bytes)) o->address_space_limit = bytes;
        else bad_value("NUMAHEAP_ADDRESS_SPACE_LIMIT", v, "a byte count with an optional K, M, G or T suffix", "no limit");
    }
    if ((v = environment("NUMAHEAP_STATS")) && !parse_bool(v, &o->stats))
        bad_value("NUMAHEAP_STATS", v, "0 or 1", "0");
    if ((v = environment("NUMAHEAP_VERBOSE")) && !parse_bool(v, &o->verbose))
        bad_value("NUMAHEAP_VERBOSE", v, "0 or 1", "0");
    numaheap_malloc_active_options = *o;
}

void numaheap_malloc_print_options(const numaheap_malloc_options *o) {
    static const char *const numa[] = {"automatic", "disabled", "bind:", "interleave"};
    static const char *const release[] = {"dontneed", "free"};
    static const char *const thp[] = {"default", "always", "never"};
    static const char *const checks[] = {"standard", "full"};
    line l = { .count = 0 };
    put(&l, "NUMAHeap: ");
    put(&l, numaheap_malloc_library_name);
    put(&l, " ready (pid ");
    put_decimal(&l, getpid());
    put(&l, "): NUMAHEAP_NUMA=");
    put(&l, numa[o->numa]);
    if (o->numa == NUMAHEAP_OPT_NUMA_BIND) put_decimal(&l, o->numa_node);
    put(&l, " NUMAHEAP_SCAVENGER=");
    if (o->scavenger_enabled) { put(&l, "background:"); put_decimal(&l, o->retain_extra_percent); }
    else put(&l, "disabled");
    put(&l, " NUMAHEAP_RETAIN_PEAK_MS=");
    put_decimal(&l, o->retain_peak_ms);
    put(&l, " NUMAHEAP_RELEASE=");
    put(&l, release[o->release]);
    put(&l, " NUMAHEAP_THP=");
    put(&l, thp[o->thp]);
    put(&l, " NUMAHEAP_CHECKS=");
    put(&l, checks[o->checks]);
    put(&l, " NUMAHEAP_MEMORY_LIMIT=");
    put_decimal(&l, o->memory_limit);
    put(&l, " NUMAHEAP_ADDRESS_SPACE_LIMIT=");
    put_decimal(&l, o->address_space_limit);
    put(&l, " NUMAHEAP_STATS=");
    put_decimal(&l, o->stats);
    put(&l, "; bootstrap area ");
    put_decimal(&l, (long long)__atomic_load_n(&bootstrap_used, __ATOMIC_RELAXED));
    put(&l, " B used");
    numaheap_malloc_write_line(l.text);
}

// MARK: Process lifetime

static void fork_prepare(void) { numaheap_fork_prepare(); }
static void fork_parent(void) { numaheap_fork_parent(); }
static void fork_child(void) {
    numaheap_malloc_reclaim = 0;  // no trim pass in the child (the parent's may have been emptying another cache)
    numaheap_fork_child();
}

// Runs when the library is loaded (preloaded: after any malloc the loader or
// libc made first, which initialised the heap already; linked: after every
// shared library's initialiser, the bootstrap area having served them): lets
// the heap start, makes sure it exists and registers the fork handlers. pthread_atfork's first registrations use static
// storage in glibc; a later one would come back into malloc, which is ready.
__attribute__((constructor)) static void numaheap_malloc_load(void) {
    __atomic_store_n(&constructor_ran, 1, __ATOMIC_RELEASE);
    if (!inside()) {
        numaheap_malloc_depth = 1;
        numaheap_initialize();
        numaheap_malloc_depth = 0;
    }
    pthread_atfork(fork_prepare, fork_parent, fork_child);
}

// CPlatform's numaheap_linked_allocator_state references this weakly: with
// the allocator linked in, `Heap.shared` is the heap behind malloc.
void *numaheap_allocator_state(void) {
    void *state = ready_state();
    if (state == NULL && !inside()) {
        numaheap_malloc_depth = 1;
        numaheap_initialize();
        numaheap_malloc_depth = 0;
        state = ready_state();
    }
    return state;
}

__attribute__((destructor)) static void numaheap_malloc_unload(void) {
    if (numaheap_malloc_active_options.stats) numaheap_exit_report();
}

void numaheap_malloc_write_bad_node(int node) {
    line l = { .count = 0 };
    put(&l, "NUMAHeap: NUMAHEAP_NUMA=bind:");
    put_decimal(&l, node);
    put(&l, ": node ");
    put_decimal(&l, node);
    put(&l, " does not exist or has no memory; using automatic");
    numaheap_malloc_write_line(l.text);
}
