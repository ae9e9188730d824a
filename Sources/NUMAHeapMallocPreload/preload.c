// libNUMAHeapMalloc.so, the malloc family for LD_PRELOAD: CNUMAHeapMalloc and
// NUMAHeapMalloc, linked with the options this target carries (Package.swift):
// the Swift runtime linked in statically, so the library loads into any
// program, and exports.map, so that only the malloc family is exported.
// Those options are why this is a target of its own: SwiftPM refuses unsafe
// flags in a dependency's product, and NUMAHeapAllocator — the same malloc
// family linked into an executable — must not carry them.

#include "NUMAHeapMallocPreload.h"

// The name the library's messages give it, as programs under LD_PRELOAD have
// always seen it (CNUMAHeapMalloc's weak default says "NUMAHeapAllocator").
const char numaheap_malloc_library_name[] = "libNUMAHeapMalloc";

// Its own Swift runtime is linked in (statically, optimised across modules):
// the heap can start at the first malloc, before any initialiser has run.
const int numaheap_malloc_starts_at_first_call = 1;

// Every path into its heap is the malloc family's (its Swift code is a
// private copy): the scavenger may take back idle threads' cached blocks.
const int numaheap_malloc_private_heap = 1;
