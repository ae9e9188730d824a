import Platform
import SpanCore
import Synchronization

/// The spans of one span class that no thread cache owns (Go's `mcentral`).
///
/// ## Lock rule
/// `lock` may be held by any thread for a short time; while holding it a thread
/// may take the page heap's lock (inside `SpanSource`; a node lock in NUMAHeap)
/// but never another central lock.
/// It protects everything in ``CentralSpans`` (the lists and their counters) and
/// the allocation state (alloc bits, local free bits, `freeindex`,
/// `allocCount`) of every *unowned* span of this class — the central list is the
/// owner of those spans. Remote frees never need it, except to move a span that
/// was full off the full list, or to retire a span whose every object was freed
/// (``remoteFreeNoticed(_:incarnation:source:)``).
///
/// ## Lists
/// - `partial`: unowned spans that had at least one free object when last
///   swept; they may hold remote frees not yet swept in. At most
///   ``retainedEmptyLimit`` of them may be entirely free: keeping empty spans
///   saves the page-heap round trip (the page heap's lock and its summary updates) for
///   classes with few objects per span, whose spans empty and refill often.
/// - `full`: unowned spans with every object allocated when last swept. The
///   first remote free into such a span moves it to `partial`.
///
/// Go 1.14 keeps separate swept and unswept lists because its sweeper runs
/// concurrently and once per GC cycle. The manual heap sweeps a span's free bits
/// whenever it changes hands, so one pair of lists suffices; CollectedHeap adds
/// the `sweepgen` states on top.
///
/// A `CentralList` is immutable after `init` (all its state is behind `spans`),
/// so any number of threads may call its methods at once; they serialise on
/// `lock`.
public struct CentralList: ~Copyable {
    /// See "Lock rule".
    public let lock: RawLock
    /// The span class of every span here.
    public let spanClass: SpanClass
    /// Pages per span of this class.
    public let pagesPerSpan: Int
    /// The lists and counters. Under `lock`.
    public let spans: UnsafeMutablePointer<CentralSpans>

    /// Empty spans this list keeps on `partial` before it returns further empty
    /// spans to the page heap: ``retainedEmptyBytes`` worth, at least one and at
    /// most eight (``retainedEmptyLimit(pagesPerSpan:)``).
    public let retainedEmptyLimit: Int

    /// Bytes of empty spans a central list may keep. Each empty span a list
    /// keeps spares a later refill the page heap's lock; each costs its pages until
    /// ``releaseEmptySpans(source:)`` (the heap's `releaseFreeMemory`). With a
    /// single kept span, the malloc library's `sizemix` workload (2% of blocks
    /// 32–256 KiB, 18% 512 B–32 KiB) took the node heap's lock about once every
    /// 20 operations and stopped scaling past 4 threads on a 16-core machine.
    public static var retainedEmptyBytes: Int { 64 << 10 }

    /// Empty spans kept by a list whose spans have `pagesPerSpan` pages.
    @inlinable
    public static func retainedEmptyLimit(pagesPerSpan: Int) -> Int {
        let spanBytes = max(1, pagesPerSpan) * SizeClasses.pageSize
        return max(1, min(8, retainedEmptyBytes / spanBytes))
    }

    /// Bytes of mapped memory ``init(spanClass:pagesPerSpan:storage:)`` needs (64-byte aligned).
    public static var storageBytes: Int {
        ((RawLock.byteCount + 63) & ~63) + ((MemoryLayout<CentralSpans>.stride + 63) & ~63)
    }

    /// A central list whose lock and lists live in `storage` (``storageBytes``
    /// bytes of mapped memory, 64-byte aligned).
    public init(spanClass: SpanClass, pagesPerSpan: Int, storage: UnsafeMutableRawPointer) {
        lock = RawLock(initializingAt: storage)
        let lists = (storage + ((RawLock.byteCount + 63) & ~63)).bindMemory(to: CentralSpans.self, capacity: 1)
        lists.initialize(to: CentralSpans())
        spans = lists
        self.spanClass = spanClass
        self.pagesPerSpan = pagesPerSpan
        retainedEmptyLimit = CentralList.retainedEmptyLimit(pagesPerSpan: pagesPerSpan)
    }
}

/// A central list's mutable state. Every field is under the list's lock.
public struct CentralSpans: ~Copyable {
    public var partial = SpanList()
    public var full = SpanList()
    /// Spans obtained from the span source over the list's lifetime.
    public var spansGrown = 0
    /// Spans returned to the span source because every object was free.
    public var spansReleased = 0
    /// Empty spans kept on `partial` (an estimate: a partial span can also
    /// empty through remote frees nobody is told about).
    public var emptyRetained = 0
    @inlinable init() {}
}

extension CentralList {
    /// A span with at least one free object, owned by `owner` from now on (Go's
    /// `cacheSpan`): a partial span swept first, else a new span from `source`.
    /// Nil when the source cannot grow.
    @inlinable
    public func cacheSpan<Source: SpanSource>(owner: UInt, source: Source) -> SpanRef? {
        lock.lock()
        while let span = spans.pointee.partial.popFirst() {
            _ = span.pointee.sweepFrees()
            if span.pointee.allocCount.load(ordering: .relaxed) == 0 && spans.pointee.emptyRetained > 0 {
                spans.pointee.emptyRetained -= 1
            }
            if span.pointee.isFull {
                // Every object is still in use: it belongs on the full list.
                spans.pointee.full.insertBack(span)
                continue
            }
            span.pointee.owner.store(owner, ordering: .sequentiallyConsistent)
            lock.unlock()
            return span
        }
        // Counted before the span is made, so that a new span costs one
        // acquisition of the lock, not two; taken back in the rare failure.
        spans.pointee.spansGrown += 1
        lock.unlock()
        guard let span = source.allocateSpan(pages: pagesPerSpan, spanClass: spanClass) else {
            lock.lock()
            spans.pointee.spansGrown -= 1
            lock.unlock()
            return nil
        }
        span.pointee.owner.store(owner, ordering: .sequentiallyConsistent)
        return span
    }

    /// Takes back a span from its owning cache (Go's `uncacheSpan`): sweeps it,
    /// then files it as full or partial, or retires it to `source` when every
    /// object is free.
    ///
    /// Clearing `owner` happens before the sweep (both sequentially consistent),
    /// so a remote free either sets its bit before the sweep's exchange (and is
    /// swept here) or sees `owner == 0` afterwards (and notifies the list).
    @inlinable
    public func uncacheSpan<Source: SpanSource>(_ span: SpanRef, source: Source) {
        lock.lock()
        span.pointee.owner.store(0, ordering: .sequentiallyConsistent)
        _ = span.pointee.sweepFrees()
        fileOrRetain(span, source: source)  // Unlocks.
    }

    /// Files an unowned, just-swept span that is on no list: full, partial, or —
    /// when every object is free — kept as the retained empty span or retired.
    /// Called with the lock held; returns with it released.
    @inlinable
    func fileOrRetain<Source: SpanSource>(_ span: SpanRef, source: Source) {
        if span.pointee.allocCount.load(ordering: .relaxed) == 0 {
            if spans.pointee.emptyRetained < retainedEmptyLimit {
                spans.pointee.emptyRetained += 1
                spans.pointee.partial.insert(span)
                lock.unlock()
                return
            }
            retire(span, source: source)  // Unlocks.
            return
        }
        if span.pointee.isFull { spans.pointee.full.insert(span) } else { spans.pointee.partial.insert(span) }
        lock.unlock()
    }

    /// Retires an empty span: bumps its incarnation under the lock (so remote
    /// frees that still hold it see it is gone), unlocks, returns it to `source`.
    @inlinable
    func retire<Source: SpanSource>(_ span: SpanRef, source: Source) {
        span.pointee.incarnation.add(1, ordering: .relaxed)
        spans.pointee.spansReleased += 1
        lock.unlock()
        source.freeSpan(span)
    }

    /// Whether a remote free that left `pending` unswept remote frees in an
    /// unowned span should call ``remoteFreeNoticed(_:incarnation:source:)``:
    /// the first free after a sweep (the span may be on the full list) or the one
    /// that may have freed the last object. Anything else waits for the next
    /// sweep, so most remote frees take no lock.
    @inlinable @inline(__always)
    public static func needsNotice(_ span: SpanRef, pending: Int) -> Bool {
        pending == 1 || pending >= span.pointee.allocCount.load(ordering: .relaxed)
    }

    /// A remote free into an unowned span (see ``needsNotice(_:pending:)``):
    /// moves a full span to `partial`, and retires a span with no live object.
    ///
    /// `incarnation` is the span's `Span.incarnation` read *before* the free
    /// was published (while the freed object kept the span alive). Everything is
    /// rechecked under the lock: if the incarnation moved on, the span was
    /// retired (and its record may already describe another span) and nothing
    /// here may touch it; if it has an owner, the owner sweeps the free.
    @inlinable
    public func remoteFreeNoticed<Source: SpanSource>(_ span: SpanRef, incarnation: UInt64, source: Source) {
        lock.lock()
        guard span.pointee.incarnation.load(ordering: .relaxed) == incarnation,
              span.pointee.owner.load(ordering: .sequentiallyConsistent) == 0 else {
            lock.unlock()
            return
        }
        let onFull = spans.pointee.full.contains(span)
        guard onFull || spans.pointee.partial.contains(span) else {
            lock.unlock()
            return  // In transit under another path: that path sweeps it.
        }
        let pending = span.pointee.remoteFreeCount.load(ordering: .relaxed)
        guard onFull || pending >= span.pointee.allocCount.load(ordering: .relaxed) else {
            lock.unlock()
            return
        }
        if onFull { spans.pointee.full.remove(span) } else { spans.pointee.partial.remove(span) }
        let wasEmpty = !onFull && span.pointee.allocCount.load(ordering: .relaxed) == 0
        if wasEmpty && spans.pointee.emptyRetained > 0 { spans.pointee.emptyRetained -= 1 }
        _ = span.pointee.sweepFrees()
        fileOrRetain(span, source: source)  // Unlocks.
    }

    /// Retires every empty span on `partial` (for `releaseFreeMemory`-style
    /// calls that want all free pages back). Returns how many were retired.
    @inlinable
    public func releaseEmptySpans<Source: SpanSource>(source: Source) -> Int {
        var released = 0
        while true {
            lock.lock()
            var found: SpanRef? = nil
            var cursor = spans.pointee.partial.first
            while let s = cursor {
                _ = s.pointee.sweepFrees()
                if s.pointee.allocCount.load(ordering: .relaxed) == 0 { found = s; break }
                cursor = s.pointee.next
            }
            guard let empty = found else {
                spans.pointee.emptyRetained = 0
                lock.unlock()
                return released
            }
            spans.pointee.partial.remove(empty)
            released += 1
            retire(empty, source: source)  // Unlocks.
        }
    }
}
