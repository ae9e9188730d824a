// The C side of libNUMAHeapMalloc.so, as the Swift side (Sources/NUMAHeapMalloc)
// sees it: errno, the bootstrap allocator for re-entrant calls during the
// heap's initialisation, and the options read from NUMAHEAP_* variables.
// Nothing here allocates.
#ifndef NUMAHEAP_CNUMAHEAPMALLOC_H
#define NUMAHEAP_CNUMAHEAPMALLOC_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/// Sets errno (Swift's `errno` setter is fine too; this one is certain to inline).
void numaheap_malloc_set_errno(int value);
void numaheap_malloc_set_ready_state(void *state);

// MARK: Re-entrancy guard
//
// The exported functions (malloc.c) set the initial-exec `__thread` variable
// numaheap_malloc_depth while they are inside the heap. A call that comes back
// into malloc meanwhile (the Swift runtime instantiating something under a heap
// lock, a pthread call during initialisation) must not enter the heap again: it
// is served from the bootstrap area, and its frees are left alone.

// MARK: Bootstrap allocator
//
// While the heap initialises, a call that re-enters malloc on the initialising
// thread (the heap's own pthread calls, a scavenger starting a thread), and any
// call made while the thread is inside the heap (see the guard above), is served
// from a static, zero-filled area that is never reused. free() of such a block
// does nothing; realloc() copies it out.

/// A block of `size` bytes aligned to `alignment` (a power of two) from the
/// bootstrap area, or NULL when the area is exhausted.
void *numaheap_bootstrap_allocate(size_t size, size_t alignment);
/// True when `pointer` lies in the bootstrap area.
int numaheap_bootstrap_owns(const void *pointer);
/// The size requested for a bootstrap block.
size_t numaheap_bootstrap_size(const void *pointer);

// MARK: Options (NUMAHEAP_* environment variables)

enum {
    NUMAHEAP_OPT_NUMA_AUTOMATIC = 0,
    NUMAHEAP_OPT_NUMA_DISABLED = 1,
    NUMAHEAP_OPT_NUMA_BIND = 2,
    NUMAHEAP_OPT_NUMA_INTERLEAVE = 3,
};
enum { NUMAHEAP_OPT_RELEASE_DONTNEED = 0, NUMAHEAP_OPT_RELEASE_FREE = 1 };
enum { NUMAHEAP_OPT_THP_DEFAULT = 0, NUMAHEAP_OPT_THP_ALWAYS = 1, NUMAHEAP_OPT_THP_NEVER = 2 };
enum { NUMAHEAP_OPT_CHECKS_STANDARD = 0, NUMAHEAP_OPT_CHECKS_FULL = 1 };

typedef struct numaheap_malloc_options {
    int numa;                 // NUMAHEAP_NUMA
    int numa_node;            // with NUMAHEAP_OPT_NUMA_BIND
    int scavenger_enabled;    // NUMAHEAP_SCAVENGER
    int retain_extra_percent; // NUMAHEAP_SCAVENGER=background:PERCENT
    int retain_peak_ms;       // NUMAHEAP_RETAIN_PEAK_MS: the scavenger's peak window, ms (0: none)
    int release;              // NUMAHEAP_RELEASE
    int thp;                  // NUMAHEAP_THP
    int checks;               // NUMAHEAP_CHECKS
    int64_t memory_limit;     // NUMAHEAP_MEMORY_LIMIT, bytes; 0 = none (soft, like GOMEMLIMIT)
    int64_t address_space_limit; // NUMAHEAP_ADDRESS_SPACE_LIMIT, bytes; 0 = none (hard: ENOMEM beyond)
    int stats;                // NUMAHEAP_STATS
    int verbose;              // NUMAHEAP_VERBOSE
} numaheap_malloc_options;

/// Reads the NUMAHEAP_* variables into `options` (defaults for those unset).
/// A bad value prints one line on stderr and leaves that option's default.
/// The options are also kept for the exit report (NUMAHEAP_STATS).
void numaheap_malloc_read_options(numaheap_malloc_options *options);
/// Prints the options on stderr (NUMAHEAP_VERBOSE).
void numaheap_malloc_print_options(const numaheap_malloc_options *options);

// MARK: Figures (mallinfo, mallinfo2)

/// The heap's figures, as the Swift side reads them without allocating
/// (`HeapCore.mallocSummary`); all zero before the heap exists.
typedef struct numaheap_malloc_figures {
    size_t committed_bytes;  // arena memory committed for pages
    size_t in_use_bytes;     // in spans in use
    size_t released_bytes;   // free pages returned to the system
    size_t live_blocks;      // mallocs − frees
    size_t spans;            // spans in use
} numaheap_malloc_figures;

// MARK: Idle-cache reclaim

/// The calling thread's guard (1 while it is inside the heap) and reclaim flag
/// (malloc.c explains the protocol; HeapCore.enableCacheReclaim takes this).
void numaheap_malloc_thread_guards(int **depth, int **reclaim);
/// 1 when every path into this heap is the malloc family's (the preloadable
/// library: its Swift code is a private copy), so idle threads' cached blocks
/// may be reclaimed; 0 for the linked allocator, whose program may also call
/// Heap.shared's Swift fast paths, which set no guard.
int numaheap_malloc_heap_is_private(void);

// MARK: Misuse

/// Writes "<operation>(): invalid pointer 0x…" (glibc's words) and a NUMAHeap
/// explanation on stderr, then aborts. Never allocates.
__attribute__((noreturn)) void numaheap_malloc_invalid_pointer(const char *operation, const void *pointer);

/// Writes `text` and a newline on stderr (no allocation).
void numaheap_malloc_write_line(const char *text);
/// Says that NUMAHEAP_NUMA=bind:NODE names a node without memory (one line on stderr).
void numaheap_malloc_write_bad_node(int node);

#ifdef __cplusplus
}
#endif
#endif
