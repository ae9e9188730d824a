import CPlatform

/// The process's `malloc`, when it is a NUMAHeap heap linked into the program
/// (the root package's NUMAHeapAllocator product), so that `Heap.shared` can be
/// that heap rather than a second one.
public enum LinkedAllocator {
    /// The linked allocator's heap state (a `HeapCore` handle), initialised if
    /// no `malloc` has run yet; nil when this image's `malloc` is not NUMAHeap's
    /// linked allocator. A weak symbol reference resolved by the static link:
    /// no lookup, no allocation.
    public static var heapState: UnsafeMutableRawPointer? { numaheap_linked_allocator_state() }
}
