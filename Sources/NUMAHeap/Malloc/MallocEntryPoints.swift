import CPlatform
import Platform
import Synchronization
/// C-callable fast paths for the malloc library (Sources/CNUMAHeapMalloc):
/// its `malloc` and `free` call these directly, so one call separates a C
/// program's `malloc` from the heap's inlined fast path (through the Swift
/// wrappers it was three: C → `numaheap_malloc` → a merged thunk →
/// `HeapCore.allocate`, which cannot inline across the module boundary).
///
/// `state` is ``HeapCore/cHandle`` of a live heap; `threadBindings` the calling
/// thread's ``ThreadLocalSlot/cache`` value, which the C side reads itself
/// (malloc.c says why). Neither function reports an
/// error: a nil/false answer sends the C side to the library's full path,
/// which sets `errno` or reports the pointer. They allocate nothing on the
/// Swift heap and run no lazy initialiser (the library's CI call-graph check
/// walks them as it walks everything reachable from `malloc`).

/// `malloc(size)` on the heap at `state`: a 16-byte-aligned block, or nil when
/// the request fails (too large, out of memory) — the caller then takes the
/// path that sets `errno`.
@_spi(NUMAHeapInternals) @_cdecl("numaheap_core_malloc") @inline(__always)
public func numaheap_core_malloc(_ state: UnsafeMutableRawPointer, _ size: Int,
                                 _ threadBindings: UnsafeMutableRawPointer?) -> UnsafeMutableRawPointer? {
    let core = HeapCore(state: state.assumingMemoryBound(to: HeapState.self))
    do { return try core.allocate(byteCount: size, alignment: 16, zeroed: false, threadBindings: threadBindings) } catch { return nil }
}

/// `free(pointer)` on the heap at `state` when `pointer` lies in its arenas
/// (checked as `HeapCore.deallocate(_:)` checks it); false, touching
/// nothing, when it does not — the caller then reports a foreign pointer.
@_spi(NUMAHeapInternals) @_cdecl("numaheap_core_free") @inline(__always)
public func numaheap_core_free(_ state: UnsafeMutableRawPointer, _ pointer: UnsafeMutableRawPointer,
                               _ threadBindings: UnsafeMutableRawPointer?) -> Bool {
    HeapCore(state: state.assumingMemoryBound(to: HeapState.self)).deallocateIfMapped(pointer, threadBindings: threadBindings)
}

/// The leaf fast path of `malloc(size)` (`HeapCore.allocateFast(byteCount:threadBindings:)`),
/// which the C `malloc` tail-calls with its re-entrancy guard set (so a
/// signal handler's malloc does not race the thread's bin): on a hit it
/// clears the guard (`guardWord`, a release store: after every write to the
/// bin) and returns the block; on a miss it touches nothing and tail-calls
/// the library's full path (`numaheap_malloc_miss`, which steps out
/// of the guard). It calls nothing else and runs nothing that could call `malloc`.
@_spi(NUMAHeapInternals) @_cdecl("numaheap_core_malloc_fast") @inline(__always)
public func numaheap_core_malloc_fast(_ state: UnsafeMutableRawPointer, _ size: Int,
                                      _ guardWord: UnsafeMutableRawPointer,
                                      _ threadBindings: UnsafeMutableRawPointer?) -> UnsafeMutableRawPointer? {
    if let block = HeapCore(state: state.assumingMemoryBound(to: HeapState.self))
        .allocateFast(byteCount: size, threadBindings: threadBindings) {
        guardWord.assumingMemoryBound(to: Atomic<Int32>.self).pointee.store(0, ordering: .releasing)
        return block
    }
    return numaheap_malloc_miss(size)
}

/// The leaf fast path of `free(pointer)` (`HeapCore.deallocateFast(_:threadBindings:)`),
/// tail-called like the allocation leaf: when the block goes on the thread's
/// bin it clears the guard and returns; otherwise (`NULL` and foreign
/// pointers included) it touches nothing and tail-calls `numaheap_free_miss`.
@_spi(NUMAHeapInternals) @_cdecl("numaheap_core_free_fast") @inline(__always)
public func numaheap_core_free_fast(_ state: UnsafeMutableRawPointer, _ pointer: UnsafeMutableRawPointer?,
                                    _ guardWord: UnsafeMutableRawPointer,
                                    _ threadBindings: UnsafeMutableRawPointer?) {
    if let pointer, HeapCore(state: state.assumingMemoryBound(to: HeapState.self))
        .deallocateFast(pointer, threadBindings: threadBindings) {
        guardWord.assumingMemoryBound(to: Atomic<Int32>.self).pointee.store(0, ordering: .releasing)
        return
    }
    numaheap_free_miss(pointer)
}

extension HeapCore {
    /// The heap's state as an untyped pointer, for ``numaheap_core_malloc(_:_:_:)``
    /// and ``numaheap_core_free(_:_:_:)``.
    public var cHandle: UnsafeMutableRawPointer { UnsafeMutableRawPointer(state) }
}
