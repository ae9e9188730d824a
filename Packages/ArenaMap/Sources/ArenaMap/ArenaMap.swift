import Platform
import Synchronization

/// The heap's address space: 64 MiB arenas reserved at upward-growing hints, the
/// two-level index from any address to its arena's metadata, and that metadata
/// (span map, `pageInUse`, `pageMarks`, `zeroedBase`, node) — Go's
/// `mheap.arenas`, `arenaHints`, `allArenas` and `heapArena`.
///
/// ```swift
/// let arenas = try ArenaMap(space: SystemAddressSpace())
/// let base = try arenas.reserveArenas(bytes: 1 << 20, node: 0).get()   // under the map lock
/// arenas.setSpan(base: base, pages: 4, span: span)                      // by the pages' owner
/// arenas.spanOf(base + 100)                                             // any thread, no lock
/// ```
///
/// **Lock rules.** The map has no lock of its own. Two words for its writers:
/// - the **map lock** is whatever lock the map's owner holds to serialise the
///   writers of the map as a whole (reservations, growth, hints, the arena
///   list) — Go's `mheap_.lock`; NUMAHeap's arena lock. Every method documented
///   "map lock" must be called by one thread at a time under it;
/// - the **pages' owner** is the one thread that owns a range of pages (it
///   holds the page allocator's lock — a node lock in NUMAHeap — or was handed
///   them by it, or they are in its page cache). Methods documented "pages'
///   owner" write per-page metadata and need only that ownership.
///
/// Lookups (``spanOf(_:)``,
/// ``spanOfHeap(_:isInUse:)``, ``pageIndexOf(_:)``, ``arenaOf(_:)``, ``nodeOf(_:)``,
/// ``isMapped(_:)``, ``arenaCount``, ``arena(at:)``, ``mappedBytes``) take no lock and may
/// run on any thread at any time, concurrently with the writers; for an address
/// the heap never mapped (including null, kernel addresses and anything at or
/// above 2⁴⁸) they answer "nothing", never crash.
///
/// Every method is non-mutating: all mutable state lives in memory the map maps
/// itself and is accessed through pointers (atomically where a lock-free reader
/// may look), so readers and the writer never make overlapping Swift accesses to
/// the map value. The value itself is immutable after `init`.
///
/// **Metadata off the Swift heap.** The L1 table, the L2 tables, the arena list
/// and each arena's metadata are mapped with `SystemMemory.mapAnonymous`, never
/// through `Space` and never with `Array`; the L2 table (32 MiB) and arena list
/// (32 MiB) are virtual reservations whose untouched pages cost no memory and read
/// as zero.
///
/// `~Copyable`, so it can live inside memory the heap maps for itself; `deinit`
/// releases every arena it reserved (through `Space`) and unmaps its metadata.
public struct ArenaMap<Space: AddressSpace>: ~Copyable {
    /// The seam to the kernel for the arenas (not for the metadata). Immutable.
    @usableFromInline let _space: Space
    /// log₂ of the heap page size. Immutable.
    @usableFromInline let _pageShift: Int
    /// The root block (see `_Root`). Immutable pointer; contents as documented there.
    @usableFromInline let _root: UnsafeMutableRawPointer
    /// Metadata blocks of every arena, in reservation order (Go's `allArenas`),
    /// `1 << arenaBits` entries, mapped once and never moved. Entry `i` is written
    /// under the map lock before `arenaCount` is raised past `i` (release); readers
    /// load `arenaCount` (acquire) and then read entries below it with plain loads.
    @usableFromInline let _allArenas: UnsafeMutablePointer<UInt>
    /// The L2 table of L1 entry 0, mapped at `init`: with Go's amd64 layout
    /// (`arenaL1Bits == 0`) the only one, so a lookup reads it from the map
    /// itself instead of through the L1 entry — one dependent load fewer on
    /// every `spanOf` (the heap's free path). Immutable pointer.
    @usableFromInline let _firstL2: UnsafeMutablePointer<Atomic<UInt>>
    /// Bytes of address space the map may reserve in all. Immutable.
    @usableFromInline let _addressSpaceLimit: Int
    /// Offset of the span-map array in an arena's metadata block (it follows
    /// the header and the page bitmaps, whose size depends on the page size):
    /// computed once so that `spanOf` — on every free — adds a stored value.
    /// Immutable.
    @usableFromInline let _spansOffset: Int

    /// Creates an empty map: no arena reserved yet.
    ///
    /// - Parameters:
    ///   - space: the address space arenas come from.
    ///   - pageSize: the heap page size, a power of two from 4 KiB to 128 KiB
    ///     (so that an arena holds a whole number of 512-page reclaimer chunks).
    ///   - addressSpaceLimit: the most bytes of arenas the map will ever reserve;
    ///     a reservation that would exceed it fails with
    ///     ``ArenaMapError/addressSpaceLimit(requested:mapped:limit:)``.
    ///   - firstHint: the first address of the initial hint list,
    ///     `firstHint + i * hintStride` for `i` in `0..<hintCount`, tried lowest
    ///     first; each must be arena-aligned. Defaults are Go's on amd64.
    ///   - hintStride: the distance between two hints of that list.
    ///   - hintCount: the number of hints in that list.
    /// - Throws: the `mmap` failure when the map's own metadata cannot be mapped.
    @inlinable
    public init(
        space: Space,
        pageSize: Int = ArenaLayout.defaultPageSize,
        addressSpaceLimit: Int = Int.max,
        firstHint: UInt = ArenaLayout.defaultFirstHint,
        hintStride: UInt = ArenaLayout.defaultHintStride,
        hintCount: Int = ArenaLayout.defaultHintCount
    ) throws(SystemError) {
        let arenaMask = UInt(ArenaLayout.heapArenaBytes - 1)
        if pageSize < 4096 || pageSize > ArenaLayout.heapArenaBytes / ArenaLayout.pagesPerReclaimerChunk
            || pageSize & (pageSize - 1) != 0 {
            FatalMessage("ArenaMap: page size ").decimal(pageSize)
                .text(" is not a power of two from 4096 to 131072").crash()
        }
        if firstHint & arenaMask != 0 || hintStride & arenaMask != 0 {
            FatalMessage("ArenaMap: hints must be arena-aligned; first ").hex(firstHint)
                .text(" stride ").hex(hintStride).crash()
        }
        if hintCount < 0 || hintCount > ArenaLayout.hintCapacity {
            FatalMessage("ArenaMap: hint count ").decimal(hintCount).text(" outside 0...")
                .decimal(ArenaLayout.hintCapacity).crash()
        }
        if addressSpaceLimit < 0 {
            FatalMessage("ArenaMap: negative address-space limit ").decimal(addressSpaceLimit).crash()
        }
        let root: UnsafeMutableRawPointer
        switch SystemMemory.mapAnonymous(bytes: _Root.bytes) {
        case .success(let p): root = p
        case .failure(let e): throw e
        }
        let listBytes = (1 << ArenaLayout.arenaBits) * MemoryLayout<UInt>.stride
        let allArenas: UnsafeMutableRawPointer
        switch SystemMemory.mapAnonymous(bytes: listBytes) {
        case .success(let p): allArenas = p
        case .failure(let e):
            _ = SystemMemory.unmap(root, bytes: _Root.bytes)
            throw e
        }
        let firstL2: UnsafeMutableRawPointer
        switch SystemMemory.mapAnonymous(bytes: _Root.l2Bytes) {
        case .success(let p): firstL2 = p
        case .failure(let e):
            _ = SystemMemory.unmap(allArenas, bytes: listBytes)
            _ = SystemMemory.unmap(root, bytes: _Root.bytes)
            throw e
        }
        _allArenas = allArenas.assumingMemoryBound(to: UInt.self)
        _firstL2 = firstL2.assumingMemoryBound(to: Atomic<UInt>.self)
        _space = space
        _pageShift = pageSize.trailingZeroBitCount
        _root = root
        _addressSpaceLimit = addressSpaceLimit
        _spansOffset = HeapArena._headerBytes + (ArenaLayout.heapArenaBytes >> (pageSize.trailingZeroBitCount + 2))
        _l1[0].store(UInt(bitPattern: firstL2), ordering: .releasing)
        let metadata = _rootAtomic(_Root.metadataBytes)
        metadata.pointee.store(metadata.pointee.load(ordering: .relaxed) + _Root.l2Bytes, ordering: .relaxed)
        // Hints are a stack whose top is tried first: push the highest first, so the
        // lowest is on top and the list grows upward as hints are used up.
        var i = hintCount
        while i > 0 {
            i -= 1
            let (hint, overflow) = hintStride.multipliedReportingOverflow(by: UInt(i))
            let (address, overflow2) = firstHint.addingReportingOverflow(hint)
            if !overflow, !overflow2 { _pushHint(address) }
        }
    }

    deinit {
        let count = arenaCount
        let metadataBytes = HeapArena._metadataBytes(pageShift: _pageShift)
        for i in 0..<count {
            let arena = HeapArena(_raw: UnsafeMutableRawPointer(bitPattern: _allArenas[i])!)
            _ = _space.unreserve(arena.base, bytes: ArenaLayout.heapArenaBytes)
            _ = SystemMemory.unmap(arena._raw, bytes: metadataBytes)
        }
        for l1 in 0..<(1 << ArenaLayout.arenaL1Bits) {
            let l2 = _l1[l1].load(ordering: .relaxed)
            if let p = UnsafeMutableRawPointer(bitPattern: l2) { _ = SystemMemory.unmap(p, bytes: _Root.l2Bytes) }
        }
        _ = SystemMemory.unmap(UnsafeMutableRawPointer(_allArenas),
                               bytes: (1 << ArenaLayout.arenaBits) * MemoryLayout<UInt>.stride)
        _ = SystemMemory.unmap(_root, bytes: _Root.bytes)
    }

    // MARK: Facts

    /// The heap page size in bytes.
    @inlinable public var pageSize: Int { 1 << _pageShift }

    /// Heap pages per arena.
    @inlinable public var pagesPerArena: Int { ArenaLayout.heapArenaBytes >> _pageShift }

    /// The address space arenas come from (the scavenger releases pages through it).
    @inlinable public var space: Space { _space }

    /// The most bytes of arenas this map will reserve.
    @inlinable public var addressSpaceLimit: Int { _addressSpaceLimit }

    /// Bytes of arenas reserved so far (a multiple of 64 MiB). Lock-free (atomic).
    @inlinable public var mappedBytes: Int { _rootAtomic(_Root.mappedBytes).pointee.load(ordering: .relaxed) }

    /// Bytes of metadata the map has mapped for itself (index tables, arena list,
    /// per-arena blocks): virtual size, not resident size. Lock-free (atomic).
    @inlinable public var metadataBytes: Int {
        _Root.bytes + (1 << ArenaLayout.arenaBits) * MemoryLayout<UInt>.stride
            + _rootAtomic(_Root.metadataBytes).pointee.load(ordering: .relaxed)
    }

    /// Number of arenas reserved so far. Lock-free (acquire): every arena below it
    /// is fully registered.
    @inlinable public var arenaCount: Int { _rootAtomic(_Root.arenaCount).pointee.load(ordering: .acquiring) }

    /// The `index`th arena reserved (Go's `allArenas[index]`), `0 ≤ index < arenaCount`.
    /// Lock-free.
    @inlinable public func arena(at index: Int) -> HeapArena {
        let count = arenaCount
        if _slowPath(index < 0 || index >= count) {
            FatalMessage("ArenaMap: arena(at: ").decimal(index).text(") with ").decimal(count)
                .text(" arenas").crash()
        }
        return HeapArena(_raw: UnsafeMutableRawPointer(bitPattern: _allArenas[index])!)
    }

    // MARK: Lock-free lookups

    /// The metadata of the arena containing `address`, or nil when the heap did not
    /// reserve it. Any address is allowed. Lock-free.
    @inlinable @inline(__always)
    public func arenaOf(_ address: UInt) -> HeapArena? {
        // Arena number; anything at or above 2^48 (kernel half, garbage) is out of range.
        let ai = address >> UInt(ArenaLayout.logHeapArenaBytes)
        guard _fastPath(ai < 1 << UInt(ArenaLayout.arenaBits)) else { return nil }
        let l2Table: UnsafeMutablePointer<Atomic<UInt>>
        if ArenaLayout.arenaL1Bits == 0 {
            l2Table = _firstL2
        } else {
            let l2 = _l1[Int(ai >> UInt(ArenaLayout.arenaL2Bits))].load(ordering: .acquiring)
            guard let table = UnsafeMutablePointer<Atomic<UInt>>(bitPattern: l2) else { return nil }
            l2Table = table
        }
        let mask = UInt(1 << ArenaLayout.arenaL2Bits - 1)
        let block = l2Table[Int(ai & mask)].load(ordering: .acquiring)
        guard let raw = UnsafeMutableRawPointer(bitPattern: block) else { return nil }
        return HeapArena(_raw: raw)
    }

    /// The span recorded for the page containing `address` (Go's `spanOf`), or nil:
    /// no arena there, or no span recorded for that page. Any address is allowed.
    /// Lock-free; the span reference was published with release ordering by
    /// ``setSpan(base:pages:span:)`` and is read with acquire, so what the heap wrote
    /// into the span before recording it is visible.
    ///
    /// A non-nil answer may be a span that is not in use (freed, or a free span's
    /// interior): callers that need an in-use span use ``spanOfHeap(_:isInUse:)``.
    @inlinable @inline(__always)
    public func spanOf(_ address: UInt) -> UnsafeMutableRawPointer? {
        guard let arena = arenaOf(address) else { return nil }
        let page = Int((address & UInt(ArenaLayout.heapArenaBytes - 1)) &>> _pageShift)
        let spans = (arena._raw + _spansOffset)
            .assumingMemoryBound(to: Atomic<UInt>.self)
        return UnsafeMutableRawPointer(bitPattern: spans[page].load(ordering: .acquiring))
    }

    /// Go's `spanOfHeap`: the span for `address` only when `isInUse(span, address)`
    /// says it is an in-use heap span containing `address`, nil otherwise.
    ///
    /// The map does not know what a span is, so the heap supplies the check (state
    /// is in use, `base ≤ address < limit`); it is inlined, not called through a
    /// closure context, because this method is `@inlinable`. Lock-free.
    @inlinable @inline(__always)
    public func spanOfHeap(
        _ address: UInt, isInUse: (_ span: UnsafeMutableRawPointer, _ address: UInt) -> Bool
    ) -> UnsafeMutableRawPointer? {
        guard let span = spanOf(address), isInUse(span, address) else { return nil }
        return span
    }

    /// Where `address`'s page lives in its arena's bitmaps (Go's `pageIndexOf`): the
    /// arena, the 64-bit word of `pageInUse`/`pageMarks`, and the page's bit in that
    /// word; nil when no arena contains `address`. Lock-free.
    @inlinable
    public func pageIndexOf(_ address: UInt) -> (arena: HeapArena, word: Int, mask: UInt64)? {
        guard let arena = arenaOf(address) else { return nil }
        let page = Int((address & UInt(ArenaLayout.heapArenaBytes - 1)) &>> _pageShift)
        return (arena, BitIndex.word(page), BitIndex.mask(page))
    }

    /// The NUMA node of the arena containing `address`; nil when none does. Lock-free.
    @inlinable public func nodeOf(_ address: UInt) -> Int32? { arenaOf(address)?.node }

    /// Whether `address` lies in an arena the map reserved. Lock-free.
    @inlinable public func isMapped(_ address: UInt) -> Bool { arenaOf(address) != nil }

    // MARK: Root block

    @inlinable var _l1: UnsafeMutablePointer<Atomic<UInt>> {
        (_root + _Root.l1).assumingMemoryBound(to: Atomic<UInt>.self)
    }

    @inlinable func _rootAtomic(_ offset: Int) -> UnsafeMutablePointer<Atomic<Int>> {
        (_root + offset).assumingMemoryBound(to: Atomic<Int>.self)
    }
}

extension ArenaMap where Space == SystemAddressSpace {
    /// A map over the real address space.
    public init(
        pageSize: Int = ArenaLayout.defaultPageSize, addressSpaceLimit: Int = Int.max
    ) throws(SystemError) {
        try self.init(space: SystemAddressSpace(), pageSize: pageSize, addressSpaceLimit: addressSpaceLimit)
    }
}

/// Layout of an ``ArenaMap``'s root block (one anonymous mapping, zeroed):
///
///     0    arenaCount     Atomic<Int>  map lock to write (release); read lock-free (acquire)
///     8    mappedBytes    Atomic<Int>  map lock to write; read lock-free (relaxed, statistics)
///     16   metadataBytes  Atomic<Int>  map lock to write; read lock-free (relaxed, statistics)
///     24   hintCount      Int          map lock; plain
///     64   l1             (1 << arenaL1Bits) × Atomic<UInt>: L2 table addresses, 0 = none.
///                         Map lock to write (release, once per entry); read lock-free (acquire)
///     64 + 8·L1  hints    hintCapacity × UInt: the hint stack, top = next hint tried.
///                         Map lock; plain. Every hint is arena-aligned.
@usableFromInline enum _Root {
    @inlinable static var arenaCount: Int { 0 }
    @inlinable static var mappedBytes: Int { 8 }
    @inlinable static var metadataBytes: Int { 16 }
    @inlinable static var hintCount: Int { 24 }
    @inlinable static var l1: Int { 64 }
    @inlinable static var hints: Int { l1 + (1 << ArenaLayout.arenaL1Bits) * MemoryLayout<UInt>.stride }
    @inlinable static var bytes: Int {
        (hints + ArenaLayout.hintCapacity * MemoryLayout<UInt>.stride + 4095) & ~4095
    }
    /// Bytes of one L2 table.
    @inlinable static var l2Bytes: Int { (1 << ArenaLayout.arenaL2Bits) * MemoryLayout<UInt>.stride }
}
