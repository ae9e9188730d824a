import Platform
import SpanCore
import Synchronization

/// The spans of one span class that no thread cache owns (Go's `mcentral`).
///
/// ## Lock rule
/// `lock` may be held by any thread for a short time; while holding it a thread
/// may take the heap lock (inside ``SpanSource``) but never another central lock.
/// It protects `partial`, `full`, and the allocation state (alloc bits, local
/// free bits, `freeindex`, `allocCount`) of every *unowned* span of this class —
/// the central list is the owner of those spans. Remote frees never need it,
/// except to move a span that was full off the full list, or to return a span
/// whose every object was freed (``remoteFreeNoticed(_:pending:source:)``).
///
/// ## Lists
/// - `partial`: unowned spans that had at least one free object when last
///   swept; they may hold remote frees not yet swept in.
/// - `full`: unowned spans with every object allocated when last swept. The
///   first remote free into such a span moves it to `partial`.
///
/// Go 1.14 keeps separate swept and unswept lists because its sweeper runs
/// concurrently and once per GC cycle. The manual heap sweeps a span's free bits
/// whenever it changes hands, so one pair of lists suffices; CollectedHeap adds
/// the `sweepgen` states on top.
public struct CentralList: ~Copyable {
    /// See "Lock rule".
    public let lock: RawLock
    /// The span class of every span here.
    public let spanClass: SpanClass
    /// Pages per span of this class.
    public let pagesPerSpan: Int
    public var partial: SpanList
    public var full: SpanList
    /// Spans obtained from the span source over the list's lifetime. Under `lock`.
    public var spansGrown: Int = 0
    /// Spans returned to the span source because every object was free. Under `lock`.
    public var spansReleased: Int = 0

    /// A central list whose lock is initialised in place at `lockStorage`
    /// (``RawLock/byteCount`` bytes of mapped memory).
    public init(spanClass: SpanClass, pagesPerSpan: Int, lockStorage: UnsafeMutableRawPointer) {
        lock = RawLock(initializingAt: lockStorage)
        self.spanClass = spanClass
        self.pagesPerSpan = pagesPerSpan
        partial = SpanList()
        full = SpanList()
    }
}

extension CentralList {
    /// A span with at least one free object, owned by `owner` from now on (Go's
    /// `cacheSpan`): a partial span swept first, else a new span from `source`.
    /// Nil when the source cannot grow.
    @inlinable
    public mutating func cacheSpan<Source: SpanSource>(owner: UInt, source: Source) -> SpanRef? {
        lock.lock()
        while let span = partial.popFirst() {
            _ = span.pointee.sweepFrees()
            if span.pointee.isFull {
                // Every object is still in use: it belongs on the full list.
                full.insertBack(span)
                continue
            }
            span.pointee.owner.store(owner, ordering: .sequentiallyConsistent)
            lock.unlock()
            return span
        }
        lock.unlock()
        guard let span = source.allocateSpan(pages: pagesPerSpan, spanClass: spanClass) else { return nil }
        span.pointee.owner.store(owner, ordering: .sequentiallyConsistent)
        lock.withLock { spansGrown += 1 }
        return span
    }

    /// Takes back a span from its owning cache (Go's `uncacheSpan`): sweeps it,
    /// then files it as full or partial, or returns it to `source` when every
    /// object is free.
    ///
    /// Clearing `owner` happens before the sweep (both sequentially consistent),
    /// so a remote free either sets its bit before the sweep's exchange (and is
    /// swept here) or sees `owner == 0` afterwards (and notifies the list).
    @inlinable
    public mutating func uncacheSpan<Source: SpanSource>(_ span: SpanRef, source: Source) {
        lock.lock()
        span.pointee.owner.store(0, ordering: .sequentiallyConsistent)
        _ = span.pointee.sweepFrees()
        if span.pointee.allocCount.load(ordering: .relaxed) == 0 {
            spansReleased += 1
            lock.unlock()
            source.freeSpan(span)
            return
        }
        if span.pointee.isFull { full.insert(span) } else { partial.insert(span) }
        lock.unlock()
    }

    /// Whether a remote free that left `pending` unswept remote frees in an
    /// unowned span should call ``remoteFreeNoticed(_:pending:source:)``: the
    /// first free after a sweep (the span may be on the full list) or the one
    /// that may have freed the last object. Anything else waits for the next
    /// sweep, so most remote frees take no lock.
    @inlinable @inline(__always)
    public static func needsNotice(_ span: SpanRef, pending: Int) -> Bool {
        pending == 1 || pending >= span.pointee.allocCount.load(ordering: .relaxed)
    }

    /// A remote free into an unowned span (see ``needsNotice(_:pending:)``):
    /// moves a full span to `partial`, and returns a span with no live object to
    /// `source`. Rechecks everything under the lock: the span may have been
    /// cached or swept since the free looked.
    @inlinable
    public mutating func remoteFreeNoticed<Source: SpanSource>(_ span: SpanRef, source: Source) {
        lock.lock()
        guard span.pointee.owner.load(ordering: .sequentiallyConsistent) == 0 else {
            lock.unlock()
            return  // A cache took it; its owner sweeps the free.
        }
        let onFull = full.containsByIdentity(span)
        let onPartial = !onFull && partial.containsByIdentity(span)
        guard onFull || onPartial else {
            lock.unlock()
            return  // Not filed here any more (already returned): nothing to do.
        }
        let wasFull = onFull
        let pending = span.pointee.remoteFreeCount.load(ordering: .relaxed)
        if wasFull || pending >= span.pointee.allocCount.load(ordering: .relaxed) {
            if wasFull { full.remove(span) } else { partial.remove(span) }
            _ = span.pointee.sweepFrees()
            if span.pointee.allocCount.load(ordering: .relaxed) == 0 {
                spansReleased += 1
                lock.unlock()
                source.freeSpan(span)
                return
            }
            if span.pointee.isFull { full.insert(span) } else { partial.insert(span) }
        }
        lock.unlock()
    }
}

extension SpanList {
    /// True when `span` is on this list (by its `list` field: O(1)).
    @inlinable
    public mutating func containsByIdentity(_ span: SpanRef) -> Bool {
        span.pointee.list == withUnsafeMutablePointer(to: &self) { UnsafeMutableRawPointer($0) }
    }
}
