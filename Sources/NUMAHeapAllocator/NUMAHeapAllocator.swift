// NUMAHeapAllocator: NUMAHeap as the malloc family of the executable that
// links this product. Nothing here needs importing for that — the exported C
// functions (Sources/CNUMAHeapMalloc) are in the link as soon as the product
// is a dependency, and an executable's definitions of malloc, free, … come
// before libc's in the dynamic linker's search order, so every call to malloc
// in the process (libc's own, the Swift runtime's, Foundation's) reaches them.
// The NUMAHEAP_* environment variables are read as libNUMAHeapMalloc.so reads
// them (Docs/Malloc.md).
//
// `import NUMAHeapAllocator` gives the program the NUMAHeap module; its
// `Heap.shared` is the heap behind this malloc, so the program can read its
// own statistics (`Heap.shared.statistics`).
@_exported import NUMAHeap
