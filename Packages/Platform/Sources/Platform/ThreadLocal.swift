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

    /// NUMAHeap's head of the thread's heap bindings (`ThreadBinding`: each
    /// links the thread to its cache record, Go's `mcache`, in one heap; the
    /// most recently used first).
    @inlinable public static var cache: ThreadLocalSlot { ThreadLocalSlot(Int32(NUMAHEAP_TLS_CACHE)) }
    /// Unused by NUMAHeap; for tests.
    @inlinable public static var spare: ThreadLocalSlot { ThreadLocalSlot(Int32(NUMAHEAP_TLS_SPARE)) }

    /// The calling thread's value.
    @inlinable
    public var value: UnsafeMutableRawPointer? {
        get { numaheap_tls_get(index) }
        nonmutating set { numaheap_tls_set(index, newValue) }
    }
}
