import CPlatform

/// One pointer-sized thread-local slot (a C `__thread` variable, initial-exec TLS
/// model). Reading or writing it inlines to a single `%fs`-relative access; a
/// new thread sees `nil`.
///
/// The slots are fixed (see `CPlatform.h`): each layer owns one, so no
/// registration (and no allocation) is ever needed. The slot constants are
/// computed, not stored, so using one never runs a lazy initialiser (`swift_once`).
public struct ThreadLocalSlot: Sendable {
    @usableFromInline let index: Int32

    @inlinable init(_ index: Int32) { self.index = index }

    /// Central's per-thread cache (Go's `mcache`).
    @inlinable public static var cache: ThreadLocalSlot { ThreadLocalSlot(Int32(NUMAHEAP_TLS_CACHE)) }
    /// SpanCore's per-thread span-struct stash (Go's `mspancache`).
    @inlinable public static var spanStash: ThreadLocalSlot { ThreadLocalSlot(Int32(NUMAHEAP_TLS_SPAN_STASH)) }
    /// NUMAHeap's record of the thread's node.
    @inlinable public static var node: ThreadLocalSlot { ThreadLocalSlot(Int32(NUMAHEAP_TLS_NODE)) }
    /// Unused by NUMAHeap; for tests.
    @inlinable public static var spare: ThreadLocalSlot { ThreadLocalSlot(Int32(NUMAHEAP_TLS_SPARE)) }

    /// The calling thread's value.
    @inlinable
    public var value: UnsafeMutableRawPointer? {
        get { numaheap_tls_get(index) }
        nonmutating set { numaheap_tls_set(index, newValue) }
    }
}
