import Platform
import Synchronization

/// Bitmap arenas with epochs: the memory for every span's mark, alloc and free
/// bits (Go's `gcBitsArenas` with `newMarkBits`, `newAllocBits` and
/// `nextMarkBitArenaEpoch`).
///
/// Bitmaps are bump-allocated, without a lock, from 64 KiB arenas mapped
/// straight from the kernel (16 at a time). They are never freed one by one:
/// a whole generation of arenas is recycled at once when the collector's
/// cycle has moved two epochs past it. The model, the lifecycle and a
/// collector's use step by step are in `Docs/GCBits.md`.
///
/// ## A handle to mapped state
/// `GCBitsArenas` is one pointer to its control block; copies are handles to
/// the same arenas. The control block holds atomics and a lock, which need a
/// fixed address, so it cannot live inside a value that moves; keeping it
/// behind a pointer lets the heap store the handle in memory it maps itself
/// (a plain word, copyable, `Sendable`) and call it from every thread without
/// ARC or Swift heap allocation. Place the control block yourself with
/// ``init(controlBlock:)`` or let ``init()`` map a page for it.
/// ``destroy()`` releases everything; the caller says when (like
/// `UnsafeMutablePointer.deallocate()`).
///
/// ## Threads
/// ``newMarkBits(_:)`` and ``newAllocBits(_:)`` may run on any number of
/// threads at once. ``nextMarkBitArenaEpoch()`` must not overlap them (Go calls
/// it with the world stopped, at the end of a cycle's sweep): a thread that
/// read the old `next` head and allocated after the epoch changed would get
/// bits that are recycled one epoch too early. ``destroy()`` must run alone.
public struct GCBitsArenas: @unchecked Sendable {
    /// The control block (see ``_GCBitsArenasLayout`` for its layout and lock
    /// rule). Immutable.
    @usableFromInline let _base: UnsafeMutableRawPointer

    /// The arenas' lock (Go's `gcBitsArenas.lock`): a Platform `RawLock` in
    /// the control block's first cache line.
    ///
    /// Lock rule:
    /// - *Who holds it:* any thread, briefly — `newMarkBits`' slow path
    ///   (installing an arena), ``nextMarkBitArenaEpoch()``, ``statistics``
    ///   and ``destroy()``. The slow path drops it around `mmap` of a new batch
    ///   and takes it again (Go's `newArenaMayUnlock`).
    /// - *What it protects:* every field of `_locked` (the `free`, `current`
    ///   and `previous` lists, the carve cursor, the batch list, the epoch) and
    ///   the `next` link of every arena on any list; `_next` is written only
    ///   while it is held. Not protected: reads of `_next` (atomic, acquire) and
    ///   the arenas' `free` bump indices (atomic).
    /// - *Order:* a leaf. Callers may hold their own locks when they call in
    ///   (the collected heap's sweep holds a size class's lock); nothing is
    ///   acquired while this one is held. Its longest holds are a 64 KiB clear
    ///   of a recycled arena and, in `nextMarkBitArenaEpoch`, a walk of the
    ///   `previous` list.
    @inlinable var _lock: RawLock {
        RawLock(existingAt: _base + _GCBitsArenasLayout.lockOffset)
    }
    /// The head of the `next` list: read atomically without the lock, written
    /// atomically under it.
    @inlinable var _next: UnsafeMutablePointer<Atomic<UInt>> {
        (_base + _GCBitsArenasLayout.nextOffset).assumingMemoryBound(to: Atomic<UInt>.self)
    }
    /// Everything else; only with the lock held.
    @inlinable var _locked: UnsafeMutablePointer<_GCBitsArenasLocked> {
        (_base + _GCBitsArenasLayout.lockedOffset).assumingMemoryBound(to: _GCBitsArenasLocked.self)
    }

    /// The head of `next`, loaded without the lock (acquire).
    @inlinable func _loadNext() -> _GCBitsArena? {
        UnsafeMutableRawPointer(bitPattern: _next.pointee.load(ordering: .acquiring)).map(_GCBitsArena.init)
    }

    /// Publishes `arena` as the head of `next` (release). Caller holds the lock.
    @inlinable func _storeNext(_ arena: _GCBitsArena?) {
        _next.pointee.store(UInt(bitPattern: arena?.raw), ordering: .releasing)
    }

    /// Lays out a control block at `base`.
    @inlinable
    init(_initializingAt base: UnsafeMutableRawPointer, ownsControlBlock: Bool) {
        _base = base
        _ = RawLock(initializingAt: base + _GCBitsArenasLayout.lockOffset)
        (base + _GCBitsArenasLayout.nextOffset).bindMemory(to: Atomic<UInt>.self, capacity: 1).initialize(to: Atomic(0))
        (base + _GCBitsArenasLayout.lockedOffset).bindMemory(to: _GCBitsArenasLocked.self, capacity: 1)
            .initialize(to: _GCBitsArenasLocked(ownsControlBlock: ownsControlBlock))
    }

    /// Bytes of bits one arena holds: 65,520 (64 KiB less the 16-byte header).
    /// The largest bitmap ``newMarkBits(_:)`` can return.
    @inlinable public static var arenaCapacity: Int { _GCBitsArena.capacity }

    /// The most objects one bitmap can describe: ``arenaCapacity`` × 8 = 524,160.
    @inlinable public static var maxElements: Int { _GCBitsArena.capacity << 3 }

    /// Bytes a control block needs, for ``init(controlBlock:)``.
    @inlinable public static var controlBlockByteCount: Int { _GCBitsArenasLayout.byteCount }

    /// Alignment a control block needs, for ``init(controlBlock:)``.
    @inlinable public static var controlBlockAlignment: Int { _GCBitsArenasLayout.alignment }

    /// Creates empty arenas whose control block lives in a page mapped for it.
    /// No arena is mapped until the first ``newMarkBits(_:)``.
    @inlinable
    public init() throws(SystemError) {
        let bytes = (GCBitsArenas.controlBlockByteCount + SystemMemory.physicalPageSize - 1)
            & ~(SystemMemory.physicalPageSize - 1)
        let raw: UnsafeMutableRawPointer
        switch SystemMemory.mapAnonymous(bytes: bytes) {
        case .success(let p): raw = p
        case .failure(let e): throw e
        }
        self.init(_initializingAt: raw, ownsControlBlock: true)
    }

    /// Creates empty arenas whose control block lives at `controlBlock`:
    /// ``controlBlockByteCount`` bytes aligned to ``controlBlockAlignment``
    /// (a fatal error otherwise), owned by the caller, which keeps them until
    /// after ``destroy()``. The heap uses this to keep the control block in its
    /// own mapped metadata.
    @inlinable
    public init(controlBlock: UnsafeMutableRawPointer) {
        if _slowPath(UInt(bitPattern: controlBlock) % UInt(GCBitsArenas.controlBlockAlignment) != 0) {
            FatalMessage("GCBits: control block ").hex(UnsafeRawPointer(controlBlock))
                .text(" is not aligned to ").decimal(GCBitsArenas.controlBlockAlignment).crash()
        }
        self.init(_initializingAt: controlBlock, ownsControlBlock: false)
    }

    /// Returns an 8-byte aligned, zeroed bitmap for `nelems` objects, in the
    /// `next` epoch (Go's `newMarkBits`): ``GCBits/byteCount(forElements:)``
    /// bytes, `nelems` rounded up to whole 64-bit words.
    ///
    /// Lock-free while the head arena has room; otherwise takes the lock to
    /// install another arena (recycled from the free list and cleared, carved
    /// from the current batch, or from a newly mapped batch).
    ///
    /// - Throws: the `mmap` failure when a new batch was needed and could not
    ///   be mapped. The arenas are unchanged and the call may be retried.
    /// - Precondition: `0 <= nelems <= maxElements`; otherwise a fatal error
    ///   that names `nelems`, the bytes needed and the arena capacity.
    @inlinable
    public func newMarkBits(_ nelems: Int) throws(SystemError) -> GCBits {
        if _slowPath(UInt(bitPattern: nelems) > UInt(GCBitsArenas.maxElements)) {
            _oversized(nelems)
        }
        let bytes = GCBits.byteCount(forElements: nelems)
        if let p = _loadNext()?.tryAlloc(bytes: bytes) {
            return GCBits(unchecked: p)
        }
        return try _newMarkBitsSlow(bytes: bytes)
    }

    /// Returns an 8-byte aligned, zeroed bitmap for a new span's alloc bits
    /// (Go's `newAllocBits`). The same allocation as ``newMarkBits(_:)``, from
    /// `next`: spans that are swept get their alloc bits by taking over their
    /// mark bits instead.
    @inlinable
    public func newAllocBits(_ nelems: Int) throws(SystemError) -> GCBits {
        try newMarkBits(nelems)
    }

    @usableFromInline @inline(never)
    func _oversized(_ nelems: Int) -> Never {
        FatalMessage("GCBits: bitmap for ").decimal(nelems)
            .text(" elements needs ").decimal(GCBits.byteCount(forElements: nelems))
            .text(" bytes; an arena holds ").decimal(_GCBitsArena.capacity)
            .text(" (at most ").decimal(GCBitsArenas.maxElements).text(" elements)").crash()
    }
}
