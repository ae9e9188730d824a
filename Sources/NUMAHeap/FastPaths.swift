import ArenaMap
import Central
import Platform
import SpanCore

// The leaf fast paths: the common allocation and free with nothing else in
// the function — no call, so no register saved or restored; a miss answers
// nil/false and the caller takes the full path, which decides everything
// again. `Heap.allocate` (inlined at the call site) and the malloc library's
// C `malloc`/`free` call these first. Neither may run anything that could
// re-enter `malloc`: only loads, stores and the thread's own bin and span.

extension HeapCore {
    /// A block of `byteCount` ≤ 1024 bytes, 16-byte aligned, from the calling
    /// thread's bin for the class or its cached span's `allocCache`; nil when
    /// the request is larger, the thread's first binding is not to this heap,
    /// or both are empty (the caller then takes ``allocate(byteCount:alignment:zeroed:threadBindings:)``).
    /// `threadBindings` is the thread's ``ThreadLocalSlot/cache`` value.
    @inline(__always)
    public func allocateFast(byteCount: Int, threadBindings: UnsafeMutableRawPointer?) -> UnsafeMutableRawPointer? {
        let size = UInt(bitPattern: byteCount)
        guard _fastPath(size <= 1024),
              let cache = HeapState.boundCache(state, threadBindings: threadBindings) else { return nil }
        // Row 129: the 16-byte-aligned classes (see allocate(byteCount:alignment:zeroed:threadBindings:)).
        let sizeClass = Int(state.pointee.sizeClassLookup[129 &+ Int(truncatingIfNeeded: (size &+ 7) >> 3)])
        return cachedBlock(sizeClass: sizeClass, zeroed: false, cache: cache, inLeaf: true)
    }

    /// Frees `pointer` onto the calling thread's bin when the fast path of
    /// ``freeBlock(_:in:threadBindings:)`` takes it, and answers true; false,
    /// touching nothing, otherwise — a pointer outside the heap's arenas
    /// included — and the caller takes ``deallocate(_:)`` (or, in the malloc
    /// library, its full `free`), which checks everything and names any misuse.
    @inline(__always)
    public func deallocateFast(_ pointer: UnsafeMutableRawPointer, threadBindings: UnsafeMutableRawPointer?) -> Bool {
        let address = UInt(bitPattern: pointer)
        guard let raw = state.pointee.arenas.spanOf(address) else { return false }
        return freeFast(address, in: raw.assumingMemoryBound(to: Span.self), threadBindings: threadBindings)
    }
}
