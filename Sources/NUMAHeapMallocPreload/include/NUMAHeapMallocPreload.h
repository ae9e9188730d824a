// libNUMAHeapMalloc.so's own definitions (preload.c); see CNUMAHeapMalloc.h
// for the malloc family they join.
#ifndef NUMAHEAP_MALLOC_PRELOAD_H
#define NUMAHEAP_MALLOC_PRELOAD_H

/// The name the library's messages give it ("libNUMAHeapMalloc"); overrides
/// CNUMAHeapMalloc's weak default ("NUMAHeapAllocator").
extern const char numaheap_malloc_library_name[];

/// 1: the heap may start at the process's first malloc (CNUMAHeapMalloc's
/// linked allocator, without this, waits for its constructor).
extern const int numaheap_malloc_starts_at_first_call;

/// 1: every path into the heap is the malloc family's (see CNUMAHeapMalloc.h,
/// numaheap_malloc_heap_is_private).
extern const int numaheap_malloc_private_heap;

#endif
