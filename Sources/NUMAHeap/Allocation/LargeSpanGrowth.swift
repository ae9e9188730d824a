// In-place growth of a large block: `reallocate` to a larger size takes the
// free pages right after the block's span, when its node's page heap has them,
// instead of allocating elsewhere and copying (jemalloc grows large extents
// the same way; glibc extends the top chunk or `mremap`s). Go's heap has no
// counterpart: a Go slice that outgrows its capacity is always copied.
import ArenaMap
import Central
import PageAlloc
import Platform
import SpanCore

extension HeapCore {
    /// Grows the large span `span`, whose one block the caller owns, to `pages`
    /// pages (more than it has) by allocating the pages that follow it from its
    /// node's page heap, or from the calling thread's page cache when they lie
    /// in it. False, changing nothing, when any of them is in use (another
    /// thread's page cache included) or outside the node's grown space.
    ///
    /// Only the block's owner touches a large span's fields, so they are
    /// rewritten without a lock once the pages are taken; the span map's
    /// entries for the new pages name the span only after that, and until
    /// then a stray pointer into them still resolves to whatever dead record
    /// they named before (reported as a free of freed memory).
    @inline(never)
    func growLargeInPlace(_ span: SpanRef, toPages pages: Int, cache: UnsafeMutablePointer<ThreadCache>) -> Bool {
        let old = span.pointee.pageCount
        let extra = pages - old
        guard extra > 0 else { return false }
        let pageSize = state.pointee.pageSize
        let tail = span.pointee.startAddress + UInt(old * pageSize)
        let node = Int(span.pointee.node)
        let heap = state.pointee.nodes + node
        let stash = ThreadSpanStash.of(cache)
        let needzero: Bool
        ThreadHeldMemory.acquire(cache)
        let fromPageCache = stash.pointee.node == Int32(node) && stash.pointee.pageCache.allocate(base: tail, pages: extra) != nil
        ThreadHeldMemory.release(cache)
        if fromPageCache {
            // The pages after the block are in this thread's page cache: no lock.
            needzero = state.pointee.arenas.allocNeedsZero(base: tail, bytes: extra * pageSize)
            heap.pointee.noteSpanGrew(pages: extra)
        } else {
            let pageAllocator = heap.pointee._pages
            heap.pointee.lock.lock()
            guard pageAllocator.pointee.allocate(base: tail, pages: extra) != nil else {
                heap.pointee.lock.unlock()
                return false
            }
            needzero = state.pointee.arenas.allocNeedsZero(base: tail, bytes: extra * pageSize)
            heap.pointee.noteSpanGrew(pages: extra)
            heap.pointee.lock.unlock()
        }

        let bytes = pages * pageSize
        span.pointee.pageCount = pages
        span.pointee.elemSize = bytes
        span.pointee.limit = span.pointee.startAddress &+ UInt(bytes)
        span.pointee.divMul32 = Span.divMul32(forSize: bytes)
        if needzero { span.pointee.needzero.store(true, ordering: .relaxed) }
        state.pointee.arenas.setSpan(base: tail, pages: extra, span: UnsafeMutableRawPointer(span))
        ThreadCache.count(cache.pointee.largeBytesAllocated, extra * pageSize)
        return true
    }
}

extension HeapCore {
    /// Grows the large block at `pointer` in place so that it holds at least
    /// `byteCount` bytes, when the pages after it are free; true when it now
    /// does (``usableSize(of:)`` tells how much). False for a small block, for
    /// a size it already holds, and when the pages are not free — the caller
    /// then moves the block. The pointer is checked as ``reallocate(_:byteCount:)``
    /// checks it. The malloc library's `realloc` uses it.
    public func growInPlace(_ pointer: UnsafeMutableRawPointer, byteCount: Int) -> Bool {
        let (span, _) = resolve(UInt(bitPattern: pointer), operation: "reallocate")
        guard span.pointee.spanClass.sizeClass == 0, byteCount > span.pointee.elemSize,
              byteCount <= Heap.maximumByteCount else { return false }
        let pageSize = state.pointee.pageSize
        let pages = ThreadLargeSpans.spanPages(for: (byteCount + pageSize - 1) / pageSize)
        return growLargeInPlace(span, toPages: pages, cache: HeapState.currentCache(state))
    }
}
