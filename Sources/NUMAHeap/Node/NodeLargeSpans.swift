import Platform
import SpanCore
import Synchronization

/// A node's freed large spans, shared by all its threads: one lock-free stack
/// per large page class (``ThreadLargeSpans/spanPages(for:)``, 5 to 32 pages),
/// between the threads' own ``ThreadLargeSpans`` and the node's page heap —
/// the place of TCMalloc's transfer cache for its classes up to 256 KiB, and of
/// Go's `mcentral` for spans of one class, with Go 1.15's lock-free `spanSet`
/// (Go's `lfstack`) in place of `mcentral.lock`.
///
/// Why: a thread keeps 8 spans and 2 MiB at most, so a program whose threads
/// hold many large blocks of mixed sizes misses its own list about half the
/// time, and every miss took the node lock twice (allocate there, free there):
/// 371 000 node-lock acquisitions, 50 000 of them contended, in 32 M
/// operations of the malloc benchmark's `sizemix` at 8 threads. A span a
/// thread cannot keep comes here instead, and a thread's miss looks here
/// before the page heap: one compare-exchange each way.
///
/// ## Invariants
/// - A span on a stack is `dead` (a free of its block is reported as a free of
///   freed memory), its pages stay allocated in the page heap, its span-map
///   entries keep naming it, and its pages count as in use — as in a
///   thread's list. Its ``Span/owner`` word, unused by a large span otherwise,
///   links it to the next span of the stack; it is 0 again once popped.
/// - A head packs the top span's address (8-byte aligned, below 2⁴⁸) with a
///   19-bit count bumped by every push and pop, so a pop whose top was popped
///   and pushed again meanwhile fails its compare-exchange (ABA) — Go's
///   `lfstack` packing. A stale pop reads the link of a span that may be in
///   use or recycled: records are never unmapped, the link is an atomic word,
///   and the count makes that pop fail.
/// - At most ``limit(inUseBytes:)`` bytes of spans in all: a quarter of the
///   node's bytes in use (not counting these spans), at least 8 MiB and at
///   most 64 MiB; the trim pass returns what is over it (``bytes`` is
///   added before a push and taken back when the push is refused), so what a
///   node holds beyond its threads' lists grows with its heap, as Go's
///   scavenger goal and jemalloc's dirty extents do, within a fixed bound.
/// - The background scavenger's trim pass (about once a second) returns a
///   stack to the page heap when its head has not changed since the previous
///   pass (no span came or went); ``Heap/releaseFreeMemory()`` returns all;
///   a page-heap allocation that finds no room returns the largest, as many
///   as it needs, before the heap grows.
struct NodeLargeSpans {
    /// The heads, the trim pass's last look at each, and the byte count, in
    /// memory the node maps (``NodeHeap``).
    let base: UnsafeMutableRawPointer

    /// Page classes: 5–8 pages, then four per power of two up to 32 (256 KiB,
    /// where TCMalloc's size classes and transfer caches end). Larger spans
    /// are not shared: with them (to 1 MiB), the malloc benchmark's `large`
    /// workload (256 KiB–4 MiB blocks, 16 live) held 8 MiB of spans few
    /// blocks could reuse, took 19% more page faults and ran 7–10% slower.
    static var classCount: Int { 12 }
    /// The largest span shared, in pages.
    static var maxPages: Int { 32 }
    /// Bytes of the state (``classCount`` heads and last looks, the byte count).
    static var byteCount: Int { (2 * classCount + 1) * 8 }
    /// Bytes of spans a node with `inUseBytes` in use may hold.
    @inline(__always)
    static func limit(inUseBytes: Int) -> Int { min(64 << 20, max(8 << 20, inUseBytes / 4)) }

    init(base: UnsafeMutableRawPointer) { self.base = base }

    /// Zeroes the state at `base` (all stacks empty).
    static func initialize(at base: UnsafeMutableRawPointer) -> NodeLargeSpans {
        let words = base.bindMemory(to: Atomic<UInt64>.self, capacity: 2 * classCount)
        for i in 0..<2 * classCount { (words + i).initialize(to: Atomic(0)) }
        (base + 2 * classCount * 8).bindMemory(to: Atomic<Int>.self, capacity: 1).initialize(to: Atomic(0))
        return NodeLargeSpans(base: base)
    }

    private func head(_ c: Int) -> UnsafeMutablePointer<Atomic<UInt64>> {
        (base + c * 8).assumingMemoryBound(to: Atomic<UInt64>.self)
    }
    private func lastLook(_ c: Int) -> UnsafeMutablePointer<Atomic<UInt64>> {
        (base + (NodeLargeSpans.classCount + c) * 8).assumingMemoryBound(to: Atomic<UInt64>.self)
    }
    private var bytesCounter: UnsafeMutablePointer<Atomic<Int>> {
        (base + 2 * NodeLargeSpans.classCount * 8).assumingMemoryBound(to: Atomic<Int>.self)
    }

    /// Bytes of spans on the stacks now.
    var bytes: Int { bytesCounter.pointee.load(ordering: .relaxed) }

    /// The stack of spans of `pages` pages, or nil when `pages` is not one of
    /// the classes (spans of other sizes are never kept here).
    @inline(__always)
    static func classIndex(pages: Int) -> Int? {
        guard pages > 4 && pages <= maxPages else { return nil }
        let log = Int.bitWidth - 1 - (pages - 1).leadingZeroBitCount  // 2^log < pages <= 2^(log+1)
        let step = 1 << (log - 2)
        let quarter = pages - (1 << log)
        guard quarter & (step - 1) == 0 else { return nil }
        return (log - 2) * 4 + quarter / step - 1
    }

    // MARK: The packed head

    @inline(__always) private static func pack(_ span: SpanRef?, count: UInt64) -> UInt64 {
        UInt64(UInt(bitPattern: span)) << 16 | count & (1 << 19 - 1)
    }
    @inline(__always) private static func top(_ head: UInt64) -> SpanRef? {
        SpanRef(bitPattern: UInt(head >> 19) << 3)
    }

    // MARK: Push and pop

    /// Puts the dead large span `span` on its class's stack; false, changing
    /// nothing, when its size is not a class or the stacks hold `limit` bytes.
    func push(_ span: SpanRef, pageSize: Int, limit: Int) -> Bool {
        let pages = span.pointee.pageCount
        guard let c = NodeLargeSpans.classIndex(pages: pages) else { return false }
        let bytes = pages * pageSize
        if bytesCounter.pointee.add(bytes, ordering: .relaxed).newValue > limit {
            bytesCounter.pointee.subtract(bytes, ordering: .relaxed)
            return false
        }
        let address = UInt(bitPattern: span)
        if _slowPath(address & 7 != 0 || address >> 48 != 0) {
            FatalMessage("NUMAHeap: span record at ").hex(address).text(" does not fit a large-span stack head").crash()
        }
        let h = head(c)
        var old = h.pointee.load(ordering: .relaxed)
        while true {
            span.pointee.owner.store(UInt(bitPattern: NodeLargeSpans.top(old)), ordering: .relaxed)
            let (done, seen) = h.pointee.compareExchange(
                expected: old, desired: NodeLargeSpans.pack(span, count: old &+ 1),
                successOrdering: .releasing, failureOrdering: .relaxed)
            if done { return true }
            old = seen
        }
    }

    /// The most recently pushed span of `pages` pages (a class), still `dead`;
    /// nil when there is none.
    @inline(__always)
    func pop(pages: Int, pageSize: Int) -> SpanRef? {
        guard let c = NodeLargeSpans.classIndex(pages: pages) else { return nil }
        let h = head(c)
        var old = h.pointee.load(ordering: .acquiring)
        while let span = NodeLargeSpans.top(old) {
            let next = SpanRef(bitPattern: span.pointee.owner.load(ordering: .relaxed))
            let (done, seen) = h.pointee.compareExchange(
                expected: old, desired: NodeLargeSpans.pack(next, count: old &+ 1),
                successOrdering: .acquiring, failureOrdering: .acquiring)
            if done {
                span.pointee.owner.store(0, ordering: .relaxed)
                bytesCounter.pointee.subtract(pages * pageSize, ordering: .relaxed)
                return span
            }
            old = seen
        }
        return nil
    }

    /// Pops every span of the stacks that saw no push or pop since the last
    /// call (every stack, with `idleOnly` false) and hands each to `body`.
    func drain(idleOnly: Bool, pageSize: Int, _ body: (SpanRef) -> Void) {
        for c in 0..<NodeLargeSpans.classCount {
            let now = head(c).pointee.load(ordering: .relaxed)
            let seen = lastLook(c).pointee.exchange(now, ordering: .relaxed)
            guard NodeLargeSpans.top(now) != nil, !idleOnly || seen == now else { continue }
            let pages = NodeLargeSpans.pages(ofClass: c)
            while let span = pop(pages: pages, pageSize: pageSize) { body(span) }
        }
    }

    /// Pops spans, the largest class first, handing each to `body`, until
    /// `done()` answers true or the stacks are empty.
    func drainLargestFirst(pageSize: Int, until done: () -> Bool, _ body: (SpanRef) -> Void) {
        guard bytes > 0 else { return }
        for c in (0..<NodeLargeSpans.classCount).reversed() {
            let pages = NodeLargeSpans.pages(ofClass: c)
            while !done(), let span = pop(pages: pages, pageSize: pageSize) { body(span) }
            if done() { return }
        }
    }

    /// The page count of class `c` (the inverse of ``classIndex(pages:)``).
    static func pages(ofClass c: Int) -> Int {
        let log = c / 4 + 2
        return (1 << log) + (c % 4 + 1) << (log - 2)
    }
}

extension HeapCore {
    /// A span of `pages` pages from `node`'s stacks, `inUse` again; nil when
    /// they have none (the thread's own list missed first).
    @inline(__always)
    func takeNodeLargeSpan(pages: Int, node: Int32) -> SpanRef? {
        guard let span = state.pointee.nodes[Int(node)].largeSpans.pop(pages: pages, pageSize: SizeClasses.pageSize) else {
            return nil
        }
        span.pointee.state.store(SpanState.inUse.rawValue, ordering: .releasing)
        return span
    }

    /// A dead large span the thread could not keep: onto its node's stacks,
    /// or back to the page heap when they hold no room for it.
    func offerLargeSpan(_ span: SpanRef) {
        let node = span.pointee.node
        let heap = state.pointee.nodes + Int(node)
        let pageSize = state.pointee.pageSize
        if !heap.pointee.largeSpans.push(span, pageSize: pageSize, limit: heap.pointee.sharedLargeSpanLimit(pageSize: pageSize)) {
            NodeSpanSource(state: state, node: Int(node)).freeSpan(span)
        }
    }

    /// Returns the spans on every node's stacks to the page heaps: with
    /// `idleOnly` (the scavenger's trim pass), what they hold over their
    /// limit now — the largest first: the program's in-use bytes may have
    /// fallen since the spans came — and the stacks idle since the last pass;
    /// else all. One acquisition of a node's lock for all of its spans. The
    /// spans returned.
    @discardableResult
    func trimNodeLargeSpans(idleOnly: Bool) -> Int {
        let s = state
        let pageSize = s.pointee.pageSize
        var returned = 0
        for n in 0..<s.pointee.nodeCount {
            let heap = s.pointee.nodes + n
            let stacks = heap.pointee.largeSpans
            guard stacks.bytes > 0 || !idleOnly else { continue }
            // Popped first, linked through their (now free) owner words, then
            // freed under one lock acquisition.
            var taken: SpanRef? = nil
            func take(_ span: SpanRef) {
                span.pointee.owner.store(UInt(bitPattern: taken), ordering: .relaxed)
                taken = span
            }
            if idleOnly {
                let limit = heap.pointee.sharedLargeSpanLimit(pageSize: pageSize)
                stacks.drainLargestFirst(pageSize: pageSize, until: { stacks.bytes <= limit }, take)
            }
            stacks.drain(idleOnly: idleOnly, pageSize: pageSize, take)
            guard taken != nil else { continue }
            let source = NodeSpanSource(state: s, node: n)
            let lock = s.pointee.nodes[n].lock
            lock.lock()
            while let span = taken {
                taken = SpanRef(bitPattern: span.pointee.owner.load(ordering: .relaxed))
                span.pointee.owner.store(0, ordering: .relaxed)
                source.releaseSharedLocked(span)
                returned += 1
            }
            lock.unlock()
        }
        return returned
    }
}

extension HeapCore {
    /// The page counts of the shared large-span classes, smallest first.
    public static var sharedLargeSpanClassPages: [Int] {
        (0..<NodeLargeSpans.classCount).map(NodeLargeSpans.pages(ofClass:))
    }
    /// The class of spans of `pages` pages; nil when they are never shared.
    public static func sharedLargeSpanClass(pages: Int) -> Int? { NodeLargeSpans.classIndex(pages: pages) }
    /// Bytes of shared large spans a node with `inUseBytes` in use may hold.
    public static func sharedLargeSpanLimit(inUseBytes: Int) -> Int { NodeLargeSpans.limit(inUseBytes: inUseBytes) }
    /// Pages of the span a large block of `pages` pages gets (its class).
    public static func largeSpanPages(forPages pages: Int) -> Int { ThreadLargeSpans.spanPages(for: pages) }
}
