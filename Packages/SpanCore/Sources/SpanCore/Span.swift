import Platform
import Synchronization

/// A reference to a span record. Span records live in memory the heap maps
/// itself (see ``SpanRecordAllocator``); they are never on the Swift heap.
public typealias SpanRef = UnsafeMutablePointer<Span>

/// A run of contiguous pages holding objects of one size class, or one large
/// object (Go's `mspan`).
///
/// ## Ownership
/// At any time a span in use is either *owned* by one thread cache (``owner`` is
/// that cache's address) or *unowned*, on its central list (``owner`` is 0).
/// The owner — or, for an unowned span, whoever holds its central list's lock —
/// is the only writer of the allocation state: ``freeindex``, ``allocCache``,
/// ``allocCount``, the alloc bits and the local free bits. Any thread may free an
/// object of any span: a free by a thread that is not the owner sets the object's
/// bit in the *remote* free bits atomically; the owner folds free bits into the
/// alloc bits when it sweeps (``sweepFrees()``) — Go's sweep, with free bits in
/// the role of inverted mark bits.
///
/// ## Which objects are allocated
/// Between two sweeps, object `i` is allocated when
/// `allocBits[i] == 1 || i < freeindex` and neither free bit is set: the alloc
/// bits say what was live at the last sweep, and allocation hands out the zero
/// bits in index order, advancing ``freeindex`` past each one it hands out
/// without touching the alloc bits (Go's `nextFreeFast`).
///
/// ## Memory ordering for remote frees
/// A remote free validates its object by reading ``freeindex`` (acquire) and then
/// the alloc bits. A sweep stores the new alloc bits first and resets
/// ``freeindex`` last (release), so a reader that sees the reset also sees the
/// alloc bits that now record the object, and a reader that sees the old
/// ``freeindex`` judges by the old, equally valid, state.
public struct Span: ~Copyable {
    // Field order is for the caches: the first 64 bytes hold everything a
    // free's checks and an allocation's fast path read (state, class, node,
    // bounds, divmagic, freeindex, allocCache, nelems), the next 64 the bitmap
    // pointers and the owner, so a free of a block in a span not recently
    // touched costs two cache lines of the record, not three. The first field
    // is an atomic `let`: it is never formally modified (atomic operations
    // borrow), so whole-span borrows by remote threads never overlap a
    // modification at the span's address. Who writes each field is in its
    // comment and the type's documentation: the layout once, by `initialize`,
    // on the thread the span's pages were handed to, before the span is
    // published (after the node lock is released, as Go's `allocSpan` does
    // after `HaveSpan`); the allocation state by the owner only; the links
    // under their list's lock.

    // MARK: Read by every free and allocation (first cache line).

    /// ``SpanState`` raw value, read atomically by the free path.
    public let state: Atomic<UInt8>
    /// Size class and noscan bit.
    public var spanClass: SpanClass
    /// NUMA node of the span's pages.
    public var node: Int32
    /// Address of the first byte of the span.
    public var startAddress: UInt
    /// One past the last object: `startAddress + nelems * elemSize`.
    public var limit: UInt
    /// Size of each object (the whole span for a large object).
    public var elemSize: Int
    /// `⌊(2³² − 1) / elemSize⌋ + 1`: the object index of a byte offset `o` is
    /// `(o * divMul32) >> 32` for every offset in the span (checked exhaustively by
    /// SpanCore's tests).
    public var divMul32: UInt64
    /// Index at which the next search for a free object starts. Every object
    /// below it was allocated or known to be not free at the last sweep. Stored
    /// with release ordering so remote frees can validate against it.
    public let freeindex: Atomic<Int>
    /// The complement of the alloc bits from `freeindex`'s 64-bit word, shifted so
    /// that bit 0 is object `freeindex`: a 1 bit is a free object. Owner only;
    /// relaxed atomic accesses (plain moves) so that no method needs to mutate the
    /// span as a whole while other threads read it.
    public let allocCache: Atomic<UInt64>
    /// Number of objects.
    public var nelems: Int

    // MARK: Bitmaps and ownership (second cache line).

    /// Alloc bits: 1 = allocated at the last sweep. Owner-written; read by remote frees.
    public var allocBits: UnsafeMutablePointer<Atomic<UInt64>>
    /// Objects freed by the owner since the last sweep. Owner only.
    public var localFreeBits: UnsafeMutablePointer<UInt64>
    /// Objects freed by other threads since the last sweep. Any thread sets
    /// bits atomically; the sweeper exchanges whole words with zero.
    public var remoteFreeBits: UnsafeMutablePointer<Atomic<UInt64>>
    /// Address of the owning thread cache, or 0 when the span is on its central
    /// list. A large span has no owner; while it is dead on a node's shared
    /// stack (NUMAHeap's `NodeLargeSpans`) this word links it to the next span
    /// there, and it is 0 again once popped.
    public let owner: Atomic<UInt>
    /// Objects allocated (as of the owner's view). Read racily by remote frees
    /// deciding whether to take the central lock.
    public let allocCount: Atomic<Int>
    /// Number of bits set in ``remoteFreeBits``.
    public let remoteFreeCount: Atomic<Int>
    /// Bumped (under the span's central list's lock) when the span is retired —
    /// about to go back to the page heap — so that a thread that freed an object
    /// and then looks at the span again can tell, under that lock, whether the
    /// span is still the one it freed into (see Central's `CentralList`). Read atomically.
    public let incarnation: Atomic<UInt64>
    /// True when the span's memory may hold old data and must be zeroed before
    /// an object is handed out zeroed (Go's `needzero`). Owner-written, relaxed.
    public let needzero: Atomic<Bool>

    // MARK: List links — written under the lock of the list the span is on.

    /// Next span in the list. Protected by the list's lock.
    public var next: SpanRef?
    /// Previous span in the list. Protected by the list's lock.
    public var prev: SpanRef?
    /// The list the span is on, or nil (checked by ``SpanList``'s invariants).
    public var list: UnsafeMutableRawPointer?

    // MARK: The rest of the layout, GC state.

    /// Number of pages.
    public var pageCount: Int
    /// Words in each of the span's bitmaps: `⌈nelems / 64⌉`.
    public var bitmapWords: Int32
    /// Which record size the span struct came from (``SpanRecordAllocator``).
    public var recordBucket: Int32
    /// Sweep generation (Go's `sweepgen`), used by CollectedHeap.
    public let sweepgen: Atomic<UInt32>
    /// Mark bits (CollectedHeap), from GCBits. Nil in the manual heap.
    public var gcmarkBits: UnsafeMutableRawPointer?
    /// Head of the span's specials list (finalizers), sorted by offset.
    public var specials: UnsafeMutableRawPointer?

    /// A dead span record whose bitmaps are at `bitmaps` (3 × `bitmapWords` words).
    @inlinable
    public init(bitmaps: UnsafeMutableRawPointer, bitmapWords: Int, recordBucket: Int) {
        incarnation = Atomic(0)
        next = nil; prev = nil; list = nil
        startAddress = 0; pageCount = 0; spanClass = SpanClass(rawValue: 0)
        elemSize = 0; nelems = 0; limit = 0; divMul32 = 0; node = 0
        self.bitmapWords = Int32(bitmapWords)
        self.recordBucket = Int32(recordBucket)
        needzero = Atomic(false)
        freeindex = Atomic(0); allocCache = Atomic(0); allocCount = Atomic(0)
        allocBits = bitmaps.bindMemory(to: Atomic<UInt64>.self, capacity: bitmapWords)
        localFreeBits = (bitmaps + 8 * bitmapWords).bindMemory(to: UInt64.self, capacity: bitmapWords)
        remoteFreeBits = (bitmaps + 16 * bitmapWords).bindMemory(to: Atomic<UInt64>.self, capacity: bitmapWords)
        remoteFreeCount = Atomic(0); owner = Atomic(0)
        state = Atomic(SpanState.dead.rawValue); sweepgen = Atomic(0)
        gcmarkBits = nil; specials = nil
    }
}

extension Span {
    /// `⌊(2³² − 1) / size⌋ + 1`, the multiplier of ``divMul32``.
    @inlinable public static func divMul32(forSize size: Int) -> UInt64 {
        UInt64(UInt32.max) / UInt64(size) + 1
    }

    /// Lays the span record at `span` out over `pageCount` pages at `start` for
    /// objects of `elemSize` bytes (Go's `mspan.init` + `initSpan`): all objects
    /// free, no owner, state `.inUse`. The record's bitmaps must have room for
    /// the objects. Called by the thread the pages were handed to, before the
    /// span is published and after the node lock is released (the pages and
    /// the record are that thread's alone until then); it
    /// writes field by field (never the span as a whole), so a stale reader of a
    /// recycled record races only on the fields it reads, which are atomics.
    @inlinable
    public static func initialize(_ span: SpanRef, start: UInt, pageCount: Int, pageSize: Int, spanClass: SpanClass,
                                  elemSize: Int, node: Int32, needzero: Bool) {
        let words = Int(span.pointee.bitmapWords)
        let nelems = spanClass.sizeClass == 0 ? 1 : (pageCount * pageSize) / elemSize
        if _slowPath((nelems + 63) / 64 > words) {
            FatalMessage("SpanCore: span record holds ").decimal(words)
                .text(" bitmap words, span needs ").decimal((nelems + 63) / 64).crash()
        }
        let size = spanClass.sizeClass == 0 ? pageCount * pageSize : elemSize
        span.pointee.next = nil
        span.pointee.prev = nil
        span.pointee.list = nil
        span.pointee.startAddress = start
        span.pointee.pageCount = pageCount
        span.pointee.spanClass = spanClass
        span.pointee.elemSize = size
        span.pointee.nelems = nelems
        span.pointee.limit = start &+ UInt(nelems * size)
        span.pointee.divMul32 = Span.divMul32(forSize: size)
        span.pointee.node = node
        span.pointee.needzero.store(needzero, ordering: .relaxed)
        let alloc = span.pointee.allocBits, local = span.pointee.localFreeBits, remote = span.pointee.remoteFreeBits
        for w in 0..<words {
            alloc[w].store(0, ordering: .relaxed)
            local[w] = 0
            remote[w].store(0, ordering: .relaxed)
        }
        span.pointee.allocCache.store(~0, ordering: .relaxed)
        span.pointee.allocCount.store(0, ordering: .relaxed)
        span.pointee.remoteFreeCount.store(0, ordering: .relaxed)
        span.pointee.owner.store(0, ordering: .relaxed)
        span.pointee.sweepgen.store(0, ordering: .relaxed)
        span.pointee.gcmarkBits = nil
        span.pointee.specials = nil
        span.pointee.freeindex.store(0, ordering: .releasing)
        span.pointee.state.store(SpanState.inUse.rawValue, ordering: .releasing)
    }

    /// The span's state.
    @inlinable public var spanState: SpanState {
        SpanState(rawValue: state.load(ordering: .acquiring)) ?? .dead
    }

    /// True when `address` is inside the span's objects.
    @inlinable public func contains(_ address: UInt) -> Bool {
        address >= startAddress && address < limit
    }

    /// Index of the object containing `address` (which must be in the span).
    @inlinable @inline(__always)
    public func objectIndex(of address: UInt) -> Int {
        Int(truncatingIfNeeded: (UInt64(address &- startAddress) &* divMul32) >> 32)
    }

    /// Address of object `index`.
    @inlinable @inline(__always)
    public func objectAddress(_ index: Int) -> UInt {
        startAddress &+ UInt(bitPattern: index &* elemSize)
    }
}
