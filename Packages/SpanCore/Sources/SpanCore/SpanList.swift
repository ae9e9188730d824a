import Platform

/// A doubly linked list of spans (Go's `mSpanList`). It lives in mapped memory
/// next to the lock that protects it; every operation requires that lock.
///
/// Invariants, checked on every operation (a broken one stops the process with
/// the values): a span is on at most one list; `span.list` names the list it is
/// on; `first.prev == nil`, `last.next == nil`.
public struct SpanList: ~Copyable {
    public var first: SpanRef?
    public var last: SpanRef?
    /// Number of spans on the list. (Fields are writable only so the inlinable operations can
    /// be specialised in client modules; change them only through the operations.)
    public var count: Int

    @inlinable public init() { first = nil; last = nil; count = 0 }

    @inlinable public var isEmpty: Bool { first == nil }

    @inlinable
    mutating func identity() -> UnsafeMutableRawPointer {
        withUnsafeMutablePointer(to: &self) { UnsafeMutableRawPointer($0) }
    }

    /// Inserts `span` at the front.
    @inlinable
    public mutating func insert(_ span: SpanRef) {
        let me = identity()
        SpanList.checkDetached(span, "insert of a span already on a list")
        span.pointee.next = first
        if let f = first { f.pointee.prev = span } else { last = span }
        first = span
        span.pointee.list = me
        count &+= 1
    }

    /// Inserts `span` at the back.
    @inlinable
    public mutating func insertBack(_ span: SpanRef) {
        let me = identity()
        SpanList.checkDetached(span, "insertBack of a span already on a list")
        span.pointee.prev = last
        if let l = last { l.pointee.next = span } else { first = span }
        last = span
        span.pointee.list = me
        count &+= 1
    }

    /// Removes `span`, which must be on this list.
    @inlinable
    public mutating func remove(_ span: SpanRef) {
        let me = identity()
        if _slowPath(span.pointee.list != me) { SpanList.corrupt("remove of a span not on this list", span) }
        if let p = span.pointee.prev { p.pointee.next = span.pointee.next } else { first = span.pointee.next }
        if let n = span.pointee.next { n.pointee.prev = span.pointee.prev } else { last = span.pointee.prev }
        span.pointee.next = nil
        span.pointee.prev = nil
        span.pointee.list = nil
        count &-= 1
    }

    /// True when `span` is on this list (by its `list` field: O(1)).
    @inlinable
    public mutating func contains(_ span: SpanRef) -> Bool {
        span.pointee.list == identity()
    }

    /// Removes and returns the first span.
    @inlinable
    public mutating func popFirst() -> SpanRef? {
        guard let s = first else { return nil }
        remove(s)
        return s
    }

    /// Stops the process unless `span` is on no list.
    @inlinable @inline(__always)
    static func checkDetached(_ span: SpanRef, _ what: StaticString) {
        if _slowPath(span.pointee.next != nil || span.pointee.prev != nil || span.pointee.list != nil) {
            corrupt(what, span)
        }
    }

    @usableFromInline @inline(never)
    static func corrupt(_ what: StaticString, _ span: SpanRef) -> Never {
        FatalMessage("SpanList: ").text(what).text(": span ").hex(UnsafeRawPointer(span))
            .text(" start ").hex(span.pointee.startAddress)
            .text(" list ").hex(UnsafeRawPointer(span.pointee.list)).crash()
    }
}
