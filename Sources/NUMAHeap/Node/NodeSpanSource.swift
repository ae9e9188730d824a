import ArenaMap
import Central
import PageAlloc
import Platform
import SpanCore

/// One node's page heap as a ``SpanSource``: Go's `mheap.alloc`/`allocSpan`,
/// `mheap.grow` and `mheap.freeSpan`. A small value pointing at the heap's
/// state, so Central's generic calls specialise and nothing is retained.
struct NodeSpanSource: SpanSource {
    let state: UnsafeMutablePointer<HeapState>
    let node: Int
    /// The calling thread's cache, when the caller is allocating for it: small
    /// spans then come from its page cache and record stash without the node lock.
    var cache: UnsafeMutablePointer<ThreadCache>? = nil

    @inline(__always) var heap: UnsafeMutablePointer<NodeHeap> { state.pointee.nodes + node }
    // The node's out-of-line state, read once into locals: every write goes
    // through these pointers, never through an lvalue rooted at the NodeHeap.
    @inline(__always) var pageAllocator: UnsafeMutablePointer<PageAllocator> { heap.pointee._pages }
    @inline(__always) var spanRecords: UnsafeMutablePointer<SpanRecordAllocator> { heap.pointee._spanRecords }
    @inline(__always) var counters: UnsafeMutablePointer<NodeCounters> { heap.pointee._counters }

    func allocateSpan(pages: Int, spanClass: SpanClass) -> SpanRef? {
        let size = spanClass.sizeClass == 0 ? pages * state.pointee.pageSize : SizeClasses.size(ofClass: spanClass.sizeClass)
        return allocateSpan(pages: pages, alignmentPages: 1, spanClass: spanClass, elemSize: size)
    }

    /// A span for `spanClass`: from the calling thread's page cache and record
    /// stash when it is small enough and there is a cache (Go's `allocSpan`
    /// fast path, no node lock), else from the page heap under the lock.
    func allocateSpan(pages: Int, alignmentPages: Int, spanClass: SpanClass, elemSize: Int) -> SpanRef? {
        if let cache, alignmentPages == 1, pages < ThreadSpanStash.maxPages,
           let span = allocateFromThreadStash(cache, pages: pages, spanClass: spanClass, elemSize: elemSize) {
            return span
        }
        return allocate(pages: pages, alignmentPages: alignmentPages, spanClass: spanClass, elemSize: elemSize)
    }

    /// A span of `pages` pages whose base is a multiple of `alignmentPages`
    /// pages (a power of two), initialised for `spanClass`. Over-allocates and
    /// trims for alignments above a page, as the design says for large aligned
    /// blocks.
    func allocate(pages: Int, alignmentPages: Int, spanClass: SpanClass, elemSize: Int) -> SpanRef? {
        let h = heap
        let objects = spanClass.sizeClass == 0 ? 1 : pages * state.pointee.pageSize / elemSize
        h.pointee.lock.lock()
        var grew = false
        let reserved = reserveLocked(pages: pages, alignmentPages: alignmentPages, objects: objects, grew: &grew)
        h.pointee.lock.unlock()
        // Whatever may allocate or block (starting the scavenger's thread) runs
        // after the node lock is released: pthread_create may call malloc, which
        // is this heap when it is the process's allocator.
        if grew { heapGrewUnlocked() }
        guard let (span, base, needzero) = reserved else { return nil }
        // Go's allocSpan after `HaveSpan`: the pages and the record belong to
        // this thread alone now, so initialising and publishing them needs no
        // lock. Until `setSpan`, the span map still names the pages' previous
        // (dead) record, so a stray free of a pointer into them is reported as
        // a free of freed memory, as it was before this allocation.
        Span.initialize(span, start: base, pageCount: pages, pageSize: state.pointee.pageSize, spanClass: spanClass,
                        elemSize: elemSize, node: Int32(node), needzero: needzero)
        state.pointee.arenas.setSpan(base: base, pages: pages, span: UnsafeMutableRawPointer(span))
        state.pointee.arenas.setPageInUse(base)
        return span
    }

    /// The page-heap part of ``allocate(pages:alignmentPages:spanClass:elemSize:)``,
    /// with the node lock held: `pages` pages aligned to `alignmentPages`, a
    /// span record for `objects` objects, and whether the pages need zeroing.
    /// Keeps the lock's hold short: the record is initialised after it is released.
    private func reserveLocked(pages: Int, alignmentPages: Int, objects: Int,
                               grew: inout Bool) -> (SpanRef, UInt, Bool)? {
        let pageSize = state.pointee.pageSize
        let ask = pages + alignmentPages - 1
        var found = pageAllocator.pointee.allocate(pages: ask)
        // Freed large spans the node's threads share go back before the heap
        // grows (or a memory limit counts them as in use): the largest first,
        // as many as the request needs at each try, so the rest stay shared.
        while found == nil, returnSharedLargeSpansLocked(pages: ask) {
            found = pageAllocator.pointee.allocate(pages: ask)
        }
        if found == nil {
            guard grow(pages: ask) else { return nil }
            grew = true
            found = pageAllocator.pointee.allocate(pages: ask)
        }
        guard var (base, _) = found else { return nil }
        if alignmentPages > 1 {
            let alignBytes = UInt(alignmentPages * pageSize)
            let aligned = (base + alignBytes - 1) & ~(alignBytes - 1)
            let head = Int(aligned - base) / pageSize
            let tail = ask - head - pages
            if head > 0 { pageAllocator.pointee.free(base: base, pages: head) }
            if tail > 0 { pageAllocator.pointee.free(base: aligned + UInt(pages * pageSize), pages: tail) }
            base = aligned
        }
        let needzero = state.pointee.arenas.allocNeedsZero(base: base, bytes: pages * pageSize)
        guard let span = spanRecords.pointee.allocate(objects: objects) else {
            pageAllocator.pointee.free(base: base, pages: pages)
            return nil
        }
        heap.pointee.noteSpanInUse(pages: pages)
        return (span, base, needzero)
    }

    /// Adds at least `pages` free pages to the node's page allocator (Go's
    /// `mheap.grow`): whole 4 MiB chunks, committed, from the node's current
    /// arena, reserving new 64 MiB arenas when it runs out. Node lock held.
    func grow(pages: Int) -> Bool {
        let chunkBytes = 512 * state.pointee.pageSize
        let ask = (pages * state.pointee.pageSize + chunkBytes - 1) / chunkBytes * chunkBytes
        let policy = state.pointee.placement.bindPolicy
        state.pointee.arenaLock.lock()
        var result = state.pointee.arenas.grow(&counters.pointee.arenaCursor, bytes: ask, node: Int32(node), policy: policy)
        if case .failure(.bindFailed) = result {
            // The kernel refused the binding (a node the topology names but
            // the kernel does not accept, or a policy it forbids here): the
            // memory is still usable, only its placement is up to the kernel.
            // Counted, so statistics and `numaheap stats` show it.
            heap.pointee.noteBindFailure()
            result = state.pointee.arenas.grow(&counters.pointee.arenaCursor, bytes: ask, node: Int32(node), policy: nil)
        }
        state.pointee.arenaLock.unlock()
        guard case .success(let growth) = result else { return false }
        if growth.leftoverBytes > 0 {
            pageAllocator.pointee.grow(base: growth.leftoverBase, bytes: growth.leftoverBytes)
            counters.pointee.committedBytes += growth.leftoverBytes
        }
        pageAllocator.pointee.grow(base: growth.base, bytes: growth.bytes)
        counters.pointee.committedBytes += growth.bytes
        heapDidGrow(growth)
        return true
    }

    /// Returns a span whose every object is free to the page heap (Go's
    /// `mheap.freeSpan`). With a thread's cache (``cache``), a small span is
    /// held in its ``ThreadSpanStash`` instead and returned with others in one
    /// lock acquisition, or reused by the thread's next span of its size: with
    /// one acquisition per span, threads freeing spans of few objects queued on
    /// the node lock.
    func freeSpan(_ span: SpanRef) {
        let base = span.pointee.startAddress
        let pages = span.pointee.pageCount
        // The span map keeps pointing at the dead record until the pages are
        // reused, so a late free of a pointer into it is reported as a free of
        // a freed block rather than of a foreign pointer. Both stores are the
        // freeing thread's alone (the `pageInUse` bit is an atomic or), so they
        // precede the lock, which covers only the page allocator and the records.
        span.pointee.state.store(SpanState.dead.rawValue, ordering: .releasing)
        state.pointee.arenas.clearPageInUse(base)
        if let cache, pages < ThreadSpanStash.maxPages {
            ThreadHeldMemory.acquire(cache)
            defer { ThreadHeldMemory.release(cache) }
            let stash = ThreadSpanStash.of(cache)
            // Pages of the thread's own page-cache block go straight back to
            // it, and the record to the record stash: no lock, no summary
            // update, and the pages serve any small span the thread makes next.
            if stash.pointee.node == Int32(node), stash.pointee.hasRoom(forRecord: span),
               stash.pointee.pageCache.free(base: base, pages: pages) {
                stash.pointee.push(span, bucket: Int(span.pointee.recordBucket))
                heap.pointee.noteSpanInUse(pages: -pages)
                return
            }
            if stash.pointee.freedCount > 0 && stash.pointee.freedNode != Int32(node) {
                NodeSpanSource.returnFreedSpans(stash, state: state)
            }
            stash.pointee.freedNode = Int32(node)
            stash.pointee.pushFreed(span)
            if stash.pointee.freedCount == ThreadSpanStash.freedCapacity {
                NodeSpanSource.returnFreedSpans(stash, state: state)
            }
            return
        }
        let h = heap
        h.pointee.lock.lock()
        releaseLocked(span)
        h.pointee.lock.unlock()
    }

    /// Spans of the node's shared large-span stacks (``NodeLargeSpans``), the
    /// largest first, back to the page allocator until `pages` pages have
    /// gone back or the stacks are empty; false when they were empty. Node
    /// lock held (the pops need none).
    func returnSharedLargeSpansLocked(pages: Int) -> Bool {
        var returned = 0
        heap.pointee.largeSpans.drainLargestFirst(pageSize: state.pointee.pageSize, until: { returned >= pages }) { span in
            returned += span.pointee.pageCount
            releaseSharedLocked(span)
        }
        return returned > 0
    }

    /// A span popped from the node's shared large-span stacks back to the page
    /// allocator: its `pageInUse` bit cleared (a shared span keeps it, as a
    /// thread's kept span does; ``freeSpan(_:)`` clears it the same way), then
    /// ``releaseLocked(_:)``. Node lock held.
    func releaseSharedLocked(_ span: SpanRef) {
        state.pointee.arenas.clearPageInUse(span.pointee.startAddress)
        releaseLocked(span)
    }

    /// A dead span's pages back to the page allocator and its record to the
    /// record pool. Node lock held.
    func releaseLocked(_ span: SpanRef) {
        let pages = span.pointee.pageCount
        pageAllocator.pointee.free(base: span.pointee.startAddress, pages: pages)
        spanRecords.pointee.free(span)
        heap.pointee.noteSpanInUse(pages: -pages)
    }
}
