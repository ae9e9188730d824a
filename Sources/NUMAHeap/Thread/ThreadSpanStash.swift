import ArenaMap
import Central
import PageAlloc
import Platform
import SpanCore

/// Go's per-P `pcache` and `mspancache`, kept per thread: a 64-page
/// ``PageCache`` and a few span records of each record size, so that a thread
/// can make a small span (fewer than 16 pages) without taking its node's lock
/// (Go's `mheap.allocSpan` fast path).
///
/// It lives in the cache record's ``ThreadCache/heapScratch``: its owner
/// touches it under its ``ThreadHeldMemory`` claim, and so does the background
/// scavenger when it takes an idle thread's held memory back. It is refilled under the node lock
/// (`allocToCache`, a batch of records), and emptied under it when the thread
/// exits. Pages in a page cache count as allocated for the page allocator and
/// as in use for nobody: ``HeapStatistics`` shows them in neither column.
struct ThreadSpanStash {
    /// Node whose pages the page cache holds (meaningful while it is not empty).
    var node: Int32
    /// Free pages of one 64-page-aligned chunk region, owned by this thread.
    var pageCache: PageCache
    /// Stashed dead span records per record bucket (1, 4 and 16 bitmap words).
    var counts: (Int, Int, Int)
    var records: (RecordRow, RecordRow, RecordRow)
    /// Small spans this thread freed (dead, `pageInUse` clear) whose pages and
    /// records have not gone back to node `freedNode`'s heap yet: returned
    /// ``freedCapacity`` at a time under one lock acquisition, or reused whole by
    /// this thread's next span of the same size (``NodeSpanSource/freeSpan(_:)``).
    /// Their pages still count as in use.
    var freedNode: Int32
    var freedCount: Int
    var freed: FreedRow

    /// Freed spans a thread holds before it returns them (one lock acquisition each batch).
    static var freedCapacity: Int { 16 }

    /// Records kept per bucket.
    static var recordsPerBucket: Int { 8 }
    typealias RecordRow = (SpanRef?, SpanRef?, SpanRef?, SpanRef?, SpanRef?, SpanRef?, SpanRef?, SpanRef?)
    typealias FreedRow = (RecordRow, RecordRow)

    /// Spans of fewer pages than this take the stash path (Go: pageCachePages / 4).
    static var maxPages: Int { 16 }

    /// The stash of `cache`, initialised on first use (the scratch is zeroed).
    static func of(_ cache: UnsafeMutablePointer<ThreadCache>) -> UnsafeMutablePointer<ThreadSpanStash> {
        // A zeroed scratch is a valid empty stash: node 0, empty page cache
        // (PageCache's empty state is all zero bits), no records.
        cache.pointee.heapScratch.assumingMemoryBound(to: ThreadSpanStash.self)
    }
}

extension NodeSpanSource {
    /// Go's `allocSpan` fast path: a span of `pages` (< 16) pages from the
    /// calling thread's page cache and record stash, without the node lock
    /// (refills take it briefly). Nil when the page cache cannot satisfy the
    /// request; the caller then takes the locked path.
    func allocateFromThreadStash(_ cache: UnsafeMutablePointer<ThreadCache>, pages: Int,
                                 spanClass: SpanClass, elemSize: Int) -> SpanRef? {
        ThreadHeldMemory.acquire(cache)
        defer { ThreadHeldMemory.release(cache) }
        let stash = ThreadSpanStash.of(cache)
        let pageSize = state.pointee.pageSize
        // A span this thread freed, of the same size: its pages and record
        // are reused whole, with no lock (they still count as in use).
        if stash.pointee.freedCount > 0 && stash.pointee.freedNode == Int32(node) {
            let objects = spanClass.sizeClass == 0 ? 1 : (pages * pageSize) / elemSize
            if let i = stash.pointee.freedSpan(pages: pages, objects: objects) {
                let span = stash.pointee.removeFreed(at: i)
                let base = span.pointee.startAddress
                let needzero = state.pointee.arenas.allocNeedsZero(base: base, bytes: pages * pageSize)
                Span.initialize(span, start: base, pageCount: pages, pageSize: pageSize, spanClass: spanClass,
                                elemSize: elemSize, node: Int32(node), needzero: needzero)
                state.pointee.arenas.setSpan(base: base, pages: pages, span: UnsafeMutableRawPointer(span))
                state.pointee.arenas.setPageInUse(base)
                return span
            }
        }
        if stash.pointee.pageCache.isEmpty {
            let lock = heap.pointee.lock
            lock.lock()
            stash.pointee.pageCache = pageAllocator.pointee.allocToCache()
            lock.unlock()
            stash.pointee.node = Int32(node)
        } else if stash.pointee.node != Int32(node) {
            return nil  // The cached pages belong to another node's heap.
        }
        guard let (base, _) = stash.pointee.pageCache.allocate(pages: pages) else { return nil }
        let objects = spanClass.sizeClass == 0 ? 1 : (pages * pageSize) / elemSize
        guard let span = takeRecord(stash, objects: objects) else {
            // Out of memory for records: put the pages back through the lock.
            let lock = heap.pointee.lock
            lock.lock()
            pageAllocator.pointee.free(base: base, pages: pages)
            lock.unlock()
            return nil
        }
        let needzero = state.pointee.arenas.allocNeedsZero(base: base, bytes: pages * pageSize)
        Span.initialize(span, start: base, pageCount: pages, pageSize: pageSize, spanClass: spanClass,
                        elemSize: elemSize, node: Int32(node), needzero: needzero)
        state.pointee.arenas.setSpan(base: base, pages: pages, span: UnsafeMutableRawPointer(span))
        state.pointee.arenas.setPageInUse(base)
        heap.pointee.noteSpanInUse(pages: pages)
        return span
    }

    /// A dead record with room for `objects` objects from the stash, refilling
    /// that bucket under the node lock when empty.
    private func takeRecord(_ stash: UnsafeMutablePointer<ThreadSpanStash>, objects: Int) -> SpanRef? {
        let bucket = SpanRecordAllocator.bucket(forObjects: objects)
        if stash.pointee.count(bucket) == 0 {
            let lock = heap.pointee.lock
            lock.lock()
            for _ in 0..<ThreadSpanStash.recordsPerBucket {
                guard let r = spanRecords.pointee.allocate(bucket: bucket) else { break }
                stash.pointee.push(r, bucket: bucket)
            }
            lock.unlock()
        }
        return stash.pointee.pop(bucket: bucket)
    }

    /// Returns the spans `stash`'s thread freed but still holds to their node's
    /// heap, under one acquisition of that node's lock.
    static func returnFreedSpans(_ stash: UnsafeMutablePointer<ThreadSpanStash>, state: UnsafeMutablePointer<HeapState>) {
        guard stash.pointee.freedCount > 0 else { return }
        let source = NodeSpanSource(state: state, node: Int(stash.pointee.freedNode))
        let lock = source.heap.pointee.lock
        lock.lock()
        while stash.pointee.freedCount > 0 {
            source.releaseLocked(stash.pointee.removeFreed(at: stash.pointee.freedCount - 1))
        }
        lock.unlock()
    }

    /// Returns a thread's stashed pages and records to this node, and the spans
    /// it freed to theirs (thread exit, node moves, an idle thread trimmed).
    /// Takes the node lock; the caller holds the cache's ``ThreadHeldMemory`` claim.
    func drainThreadStash(_ cache: UnsafeMutablePointer<ThreadCache>) {
        let stash = ThreadSpanStash.of(cache)
        NodeSpanSource.returnFreedSpans(stash, state: state)
        let lock = heap.pointee.lock
        lock.lock()
        if !stash.pointee.pageCache.isEmpty && stash.pointee.node == Int32(node) {
            pageAllocator.pointee.flush(&stash.pointee.pageCache)
        }
        for bucket in 0..<3 {
            while let r = stash.pointee.pop(bucket: bucket) { spanRecords.pointee.free(r) }
        }
        lock.unlock()
    }
}

extension ThreadSpanStash {
    mutating func pushFreed(_ span: SpanRef) {
        let n = freedCount
        withUnsafeMutableBytes(of: &freed) { $0.baseAddress!.assumingMemoryBound(to: SpanRef?.self)[n] = span }
        freedCount = n + 1
    }

    /// Removes and returns the freed span at `i` (the last one moves into its place).
    mutating func removeFreed(at i: Int) -> SpanRef {
        let n = freedCount
        var r: SpanRef? = nil
        withUnsafeMutableBytes(of: &freed) { raw in
            let row = raw.baseAddress!.assumingMemoryBound(to: SpanRef?.self)
            r = row[i]
            row[i] = row[n - 1]
            row[n - 1] = nil
        }
        freedCount = n - 1
        return r!
    }

    /// The index of a freed span of exactly `pages` pages whose record holds
    /// `objects` objects' bits; nil when none.
    func freedSpan(pages: Int, objects: Int) -> Int? {
        var found: Int? = nil
        withUnsafeBytes(of: freed) { raw in
            let row = raw.baseAddress!.assumingMemoryBound(to: SpanRef?.self)
            for i in 0..<freedCount {
                let s = row[i]!
                if s.pointee.pageCount == pages && Int(s.pointee.bitmapWords) * 64 >= objects { found = i; return }
            }
        }
        return found
    }

    /// Whether the record stash has room for `span`'s record.
    func hasRoom(forRecord span: SpanRef) -> Bool {
        count(Int(span.pointee.recordBucket)) < ThreadSpanStash.recordsPerBucket
    }

    func count(_ bucket: Int) -> Int {
        bucket == 0 ? counts.0 : (bucket == 1 ? counts.1 : counts.2)
    }

    mutating func push(_ r: SpanRef, bucket: Int) {
        let n = count(bucket)
        withUnsafeMutableBytes(of: &records) { raw in
            let rows = raw.baseAddress!.assumingMemoryBound(to: SpanRef?.self)
            rows[bucket * ThreadSpanStash.recordsPerBucket + n] = r
        }
        setCount(bucket, n + 1)
    }

    mutating func pop(bucket: Int) -> SpanRef? {
        let n = count(bucket)
        guard n > 0 else { return nil }
        var r: SpanRef? = nil
        withUnsafeMutableBytes(of: &records) { raw in
            let rows = raw.baseAddress!.assumingMemoryBound(to: SpanRef?.self)
            r = rows[bucket * ThreadSpanStash.recordsPerBucket + n - 1]
            rows[bucket * ThreadSpanStash.recordsPerBucket + n - 1] = nil
        }
        setCount(bucket, n - 1)
        return r
    }

    mutating func setCount(_ bucket: Int, _ n: Int) {
        switch bucket {
        case 0: counts.0 = n
        case 1: counts.1 = n
        default: counts.2 = n
        }
    }
}
