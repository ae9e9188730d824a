import Central
import Platform
import SpanCore
import Synchronization

/// Each thread's few most recently freed large spans, kept whole for its next
/// large allocation of about the same size — the large-object counterpart of
/// ``ThreadObjectCache`` (TCMalloc keeps large objects in its caches the same
/// way, mimalloc its pages).
///
/// Why: a large free otherwise returns its pages to the radix tree under the
/// node lock (summary updates over every level) and the next allocation takes
/// them out again and rewrites every page's span-map entry — 364 ns for a
/// 100 000-byte pair, 59 ns with the span kept (Docs/Benchmarks.md). A kept
/// span is reused with one state store.
///
/// ## Invariants
/// - A cached span is `dead` (so ``HeapCore/deallocate(_:)``, `reallocate`,
///   `usableSize` and `owns` treat its block as freed — a second free is
///   reported as a pointer into freed memory), yet its pages stay allocated in
///   the page heap and its span-map entries keep naming it. The free stores
///   `dead` after its check saw `inUse`; under `.full` it compare-exchanges,
///   so that of two frees of one block racing on two threads one is reported.
/// - Only the holder of the cache's ``ThreadHeldMemory`` claim reads or
///   writes the list — its owner, or the background scavenger taking an idle
///   thread's spans back (it lives in the cache record's scratch area, after
///   ``ThreadSpanStash``); it holds spans of the
///   nodes in the cache's ``ThreadCache/objectNodes``, and a reuse takes a span
///   of the node the allocation chose, so placement is what it would be.
/// - At most ``capacity`` spans of at most ``maxSpanPages`` pages and
///   ``maxBytes`` in all: a span that does not fit goes back to the page heap
///   at once. The thread's exit, ``Heap/flushThreadCache()``,
///   ``Heap/releaseFreeMemory()`` and a move to another node return them all.
/// - Large spans up to ``maxSpanPages`` are rounded to classes
///   (``spanPages(for:)``), and a reuse takes the most recently kept span of
///   the node with at least the pages asked and at most 1/8 more — one of the
///   request's own class, whose pages are the likeliest to be in the CPU's
///   caches. Each entry's page count and node are copied into the list
///   (`keys`), so a search reads no span record.
/// - Statistics count the block as freed at once; its pages count as in use
///   until the span goes back.
struct ThreadLargeSpans {
    var count: Int
    var bytes: Int
    var spans: (SpanRef?, SpanRef?, SpanRef?, SpanRef?, SpanRef?, SpanRef?, SpanRef?, SpanRef?)
    /// Entry `i`'s span's page count (low 16 bits) and node (high 16 bits).
    var keys: (UInt32, UInt32, UInt32, UInt32, UInt32, UInt32, UInt32, UInt32)

    /// Spans kept at most.
    static var capacity: Int { 8 }
    /// Largest span kept, in pages (1 MiB with 8 KiB pages).
    static var maxSpanPages: Int { 128 }
    /// Bytes kept at most, all spans together.
    static var maxBytes: Int { 2 << 20 }

    /// The pages of a large span for a request of `pages` pages: up to
    /// ``maxSpanPages``, rounded up to a quarter of the power of two below
    /// (5, 6, 7, 8, 10, 12, 14, 16, 20, … pages: jemalloc's large-class spacing),
    /// so a kept span serves every request of its class rather than only its
    /// own page count; at most 25 % more address space per block, and pages the
    /// program never writes are never resident. Larger spans are not kept and
    /// not rounded.
    @inline(__always)
    static func spanPages(for pages: Int) -> Int {
        if pages <= 4 || pages > maxSpanPages { return pages }
        let step = (1 << (Int.bitWidth - 1 - (pages - 1).leadingZeroBitCount)) >> 2
        return (pages + step - 1) & ~(step - 1)
    }

    /// Offset in the cache record's scratch area (after ``ThreadSpanStash``).
    static var scratchOffset: Int { 512 }

    /// The list of `cache` (a zeroed scratch is an empty list).
    static func of(_ cache: UnsafeMutablePointer<ThreadCache>) -> UnsafeMutablePointer<ThreadLargeSpans> {
        (cache.pointee.heapScratch + scratchOffset).assumingMemoryBound(to: ThreadLargeSpans.self)
    }

    // The accessors are `mutating` so that they read the list where it lies
    // (in the cache record) instead of a copy of its tuple.

    /// The span at `i` (< ``count``).
    mutating func span(_ i: Int) -> SpanRef {
        withUnsafeMutableBytes(of: &spans) { $0.load(fromByteOffset: i * 8, as: SpanRef.self) }
    }

    /// Entry `i`'s page count and node (``key(pages:node:)``).
    mutating func key(_ i: Int) -> UInt32 {
        withUnsafeMutableBytes(of: &keys) { $0.load(fromByteOffset: i * 4, as: UInt32.self) }
    }

    static func key(pages: Int, node: Int32) -> UInt32 { UInt32(pages) | UInt32(UInt16(node)) << 16 }

    mutating func set(_ i: Int, _ span: SpanRef?, key: UInt32) {
        withUnsafeMutableBytes(of: &spans) { $0.storeBytes(of: span, toByteOffset: i * 8, as: SpanRef?.self) }
        withUnsafeMutableBytes(of: &keys) { $0.storeBytes(of: key, toByteOffset: i * 4, as: UInt32.self) }
    }
}

extension HeapCore {
    /// Keeps the freed large span for reuse when it fits the thread's list;
    /// false when the caller must return it to the page heap. The span is
    /// already `dead`.
    @inline(__always)
    func keepLargeSpan(_ span: SpanRef, cache: UnsafeMutablePointer<ThreadCache>) -> Bool {
        let pages = span.pointee.pageCount
        // A kept span is at most maxSpanPages (1 MiB), half of maxBytes: it always fits once room is made.
        guard pages <= ThreadLargeSpans.maxSpanPages,
              ThreadObjectCache.binsObjects(ofNode: span.pointee.node, cache: cache) else { return false }
        let bytes = pages * SizeClasses.pageSize
        ThreadHeldMemory.acquire(cache)
        defer { ThreadHeldMemory.release(cache) }
        let list = ThreadLargeSpans.of(cache)
        if _slowPath(list.pointee.count == ThreadLargeSpans.capacity
                        || list.pointee.bytes + bytes > ThreadLargeSpans.maxBytes) {
            makeRoom(forLargeSpanOf: bytes, list)
        }
        list.pointee.set(list.pointee.count, span, key: ThreadLargeSpans.key(pages: pages, node: span.pointee.node))
        list.pointee.count += 1
        list.pointee.bytes += bytes
        return true
    }

    /// Hands the oldest kept spans to their node's shared stacks (or its page
    /// heap) until one more of `bytes` fits (the caller holds the claim).
    @inline(never)
    func makeRoom(forLargeSpanOf bytes: Int, _ list: UnsafeMutablePointer<ThreadLargeSpans>) {
        while list.pointee.count > 0 && (list.pointee.count == ThreadLargeSpans.capacity
                                         || list.pointee.bytes + bytes > ThreadLargeSpans.maxBytes) {
            let oldest = list.pointee.span(0)
            removeLargeSpan(at: 0, list)
            offerLargeSpan(oldest)
        }
    }

    /// The most recently kept span of `node` with `pages` to `pages + pages / 8`
    /// pages, now `inUse` again; nil when there is none.
    @inline(__always)
    func reuseLargeSpan(pages: Int, node: Int32, cache: UnsafeMutablePointer<ThreadCache>) -> SpanRef? {
        guard pages <= ThreadLargeSpans.maxSpanPages else { return nil }  // none kept (nor a key to compare)
        ThreadHeldMemory.acquire(cache)
        defer { ThreadHeldMemory.release(cache) }
        let list = ThreadLargeSpans.of(cache)
        let low = ThreadLargeSpans.key(pages: pages, node: node)
        let high = ThreadLargeSpans.key(pages: pages + pages / 8, node: node)
        var best = list.pointee.count - 1
        while best >= 0 {
            let key = list.pointee.key(best)
            if key >= low && key <= high { break }
            best -= 1
        }
        if best < 0 { return nil }
        let span = list.pointee.span(best)
        if _fastPath(best == list.pointee.count - 1) {  // the newest: nothing to shift
            list.pointee.bytes -= Int(list.pointee.key(best) & 0xFFFF) * SizeClasses.pageSize
            list.pointee.set(best, nil, key: 0)
            list.pointee.count = best
        } else {
            removeLargeSpan(at: best, list)
        }
        span.pointee.state.store(SpanState.inUse.rawValue, ordering: .releasing)
        return span
    }

    /// Returns every cached large span of `cache` to the page heap. The
    /// caller holds the cache's ``ThreadHeldMemory`` claim.
    func returnLargeSpans(_ cache: UnsafeMutablePointer<ThreadCache>) {
        let list = ThreadLargeSpans.of(cache)
        while list.pointee.count > 0 {
            let span = list.pointee.span(list.pointee.count - 1)
            removeLargeSpan(at: list.pointee.count - 1, list)
            NodeSpanSource(state: state, node: Int(span.pointee.node)).freeSpan(span)
        }
    }

    /// Removes entry `i`, keeping the rest in order (oldest first).
    @inline(never)
    private func removeLargeSpan(at i: Int, _ list: UnsafeMutablePointer<ThreadLargeSpans>) {
        let pages = Int(list.pointee.key(i) & 0xFFFF)
        let count = list.pointee.count
        for j in i..<(count - 1) { list.pointee.set(j, list.pointee.span(j + 1), key: list.pointee.key(j + 1)) }
        list.pointee.set(count - 1, nil, key: 0)
        list.pointee.count = count - 1
        list.pointee.bytes -= pages * state.pointee.pageSize
    }
}

