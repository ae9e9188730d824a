import Platform
import Synchronization

/// Go's `mheap.curArena`: the part of the most recently reserved arenas that has
/// not been handed to the page allocator yet. Reserved (no access) memory; one
/// cursor per NUMA node, owned by the heap and used under its lock.
public struct ArenaCursor: Sendable, Equatable {
    /// First byte not yet handed out. Written only by ``ArenaMap/grow(_:bytes:node:policy:)``.
    public var base: UInt { _base }
    /// End of the current reservation. Written only by ``ArenaMap/grow(_:bytes:node:policy:)``.
    public var end: UInt { _end }
    @usableFromInline var _base: UInt = 0
    @usableFromInline var _end: UInt = 0
    /// An empty cursor: the first ``ArenaMap/grow(_:bytes:node:policy:)`` reserves.
    public init() {}
    /// Bytes left before the cursor needs a new reservation.
    public var remaining: Int { Int(end - base) }
}

/// What ``ArenaMap/grow(_:bytes:node:policy:)`` adds to the heap: committed,
/// never-used ranges for the page allocator.
public struct ArenaGrowth: Sendable, Equatable {
    /// The range asked for: `bytes` bytes at `base`, committed.
    public var base: UInt
    public var bytes: Int
    /// When the new reservation was not contiguous with the cursor's old one, what
    /// was left of the old one, committed too (Go hands it to the page allocator the
    /// same way); 0 bytes otherwise.
    public var leftoverBase: UInt
    public var leftoverBytes: Int

    public init(base: UInt, bytes: Int, leftoverBase: UInt = 0, leftoverBytes: Int = 0) {
        self.base = base
        self.bytes = bytes
        self.leftoverBase = leftoverBase
        self.leftoverBytes = leftoverBytes
    }
}

extension ArenaMap {
    // MARK: Hints (map lock)

    @inlinable var _hints: UnsafeMutablePointer<UInt> {
        (_root + _Root.hints).assumingMemoryBound(to: UInt.self)
    }

    @inlinable var _hintCount: Int {
        get { _root.load(fromByteOffset: _Root.hintCount, as: Int.self) }
        nonmutating set { _root.storeBytes(of: newValue, toByteOffset: _Root.hintCount, as: Int.self) }
    }

    /// The hints still to try, next first (Go's `arenaHints` list). Map lock.
    /// Allocates an `Array`: for tests and diagnostics, never on an allocation path.
    public var hints: [UInt] {
        (0..<_hintCount).reversed().map { _hints[$0] }
    }

    @usableFromInline func _pushHint(_ address: UInt) {
        let n = _hintCount
        guard n < ArenaLayout.hintCapacity else { return }
        _hints[n] = address
        _hintCount = n + 1
    }

    // MARK: Reserving arenas (map lock)

    /// Reserves at least `bytes` of address space as whole, arena-aligned arenas,
    /// registers metadata for each (with `node`), and returns the first address —
    /// Go's `mheap.sysAlloc`. Map lock.
    ///
    /// The map tries its hints lowest first: a reservation that lands exactly on a
    /// hint advances that hint past it, so the heap grows upward and contiguously;
    /// a hint the kernel cannot honour (the range is taken, or it would leave the
    /// 48-bit range) is dropped. With no hint left it reserves anywhere, aligned,
    /// and adds a hint just above the result. When `policy` is given, the range is
    /// bound to `node` with it before anything touches it.
    ///
    /// The result is Reserved memory (no access): commit ranges before use, or use
    /// ``grow(_:bytes:node:policy:)``, which does. On failure nothing is reserved.
    @inlinable
    public func reserveArenas(
        bytes: Int, node: Int32, policy: MemoryBindPolicy? = nil
    ) -> Result<UInt, ArenaMapError> {
        let arenaBytes = ArenaLayout.heapArenaBytes
        if bytes <= 0 || node < 0 {
            FatalMessage("ArenaMap: reserveArenas of ").decimal(bytes).text(" bytes for node ")
                .decimal(Int(node)).crash()
        }
        let mapped = mappedBytes
        guard bytes <= Int.max - arenaBytes,
              (bytes + arenaBytes - 1) & ~(arenaBytes - 1) <= _addressSpaceLimit - mapped
        else {
            return .failure(.addressSpaceLimit(requested: bytes, mapped: mapped, limit: _addressSpaceLimit))
        }
        let n = (bytes + arenaBytes - 1) & ~(arenaBytes - 1)
        let top = UInt(1) << UInt(ArenaLayout.addressBits)

        var base: UInt = 0
        var fromHint = false
        while base == 0, _hintCount > 0 {
            let p = _hints[_hintCount - 1]
            if p == 0 || p >= top || top - p < UInt(n) {
                _hintCount -= 1  // Would leave the index's range: drop it.
                continue
            }
            switch _space.reserve(bytes: n, hint: p) {
            case .failure(let e):
                // Not the hint's fault (ENOMEM: out of mappings or address space):
                // keep the hints and report.
                return .failure(.reserveFailed(e))
            case .success(let v):
                if v == p {
                    base = p
                    fromHint = true
                } else {
                    // The kernel put it elsewhere: the hint's range is taken. Drop it.
                    _ = _space.unreserve(v, bytes: n)
                    _hintCount -= 1
                }
            }
        }
        if base == 0 {
            // Anywhere, aligned: over-reserve by an arena and trim both ends.
            guard n <= Int.max - arenaBytes else {
                return .failure(.addressSpaceLimit(requested: bytes, mapped: mapped, limit: _addressSpaceLimit))
            }
            switch _space.reserve(bytes: n + arenaBytes, hint: 0) {
            case .failure(let e):
                return .failure(.reserveFailed(e))
            case .success(let v):
                let aligned = (v &+ UInt(arenaBytes - 1)) & ~UInt(arenaBytes - 1)
                let head = Int(aligned &- v)
                if head > 0 { _ = _space.unreserve(v, bytes: head) }
                if arenaBytes - head > 0 { _ = _space.unreserve(aligned &+ UInt(n), bytes: arenaBytes - head) }
                if aligned == 0 || aligned >= top || top - aligned < UInt(n) {
                    _ = _space.unreserve(aligned, bytes: n)
                    return .failure(.outOfRange(base: aligned, bytes: n))
                }
                base = aligned
            }
        }
        if let policy, case .failure(let e) = _space.bind(base, bytes: n, node: node, policy: policy) {
            _ = _space.unreserve(base, bytes: n)
            return .failure(.bindFailed(node: node, e))
        }
        if case .failure(let e) = _register(base: base, bytes: n, node: node) {
            _ = _space.unreserve(base, bytes: n)
            return .failure(.metadataFailed(e))
        }
        if fromHint {
            _hints[_hintCount - 1] = base + UInt(n)
        } else {
            _pushHint(base + UInt(n))
        }
        _rootAtomic(_Root.mappedBytes).pointee.store(mapped + n, ordering: .relaxed)
        return .success(base)
    }

    /// Maps and publishes metadata for the arenas of `[base, base + bytes)`.
    /// Map lock. Either every arena is registered or none is.
    @usableFromInline
    func _register(base: UInt, bytes: Int, node: Int32) -> Result<Void, SystemError> {
        let arenaShift = UInt(ArenaLayout.logHeapArenaBytes)
        let first = base >> arenaShift
        let count = bytes >> ArenaLayout.logHeapArenaBytes
        let l2Mask = UInt(1 << ArenaLayout.arenaL2Bits - 1)
        // L2 tables first (kept even if a later step fails, as Go keeps them).
        for ai in first..<first + UInt(count) {
            let l1 = Int(ai >> UInt(ArenaLayout.arenaL2Bits))
            if _l1[l1].load(ordering: .relaxed) == 0 {
                switch SystemMemory.mapAnonymous(bytes: _Root.l2Bytes) {
                case .failure(let e): return .failure(e)
                case .success(let table):
                    _l1[l1].store(UInt(bitPattern: table), ordering: .releasing)
                    let m = _rootAtomic(_Root.metadataBytes)
                    m.pointee.store(m.pointee.load(ordering: .relaxed) + _Root.l2Bytes, ordering: .relaxed)
                }
            }
        }
        // All the arenas' metadata in one mapping, so failure leaves nothing behind.
        let blockBytes = HeapArena._metadataBytes(pageShift: _pageShift)
        let blocks: UnsafeMutableRawPointer
        switch SystemMemory.mapAnonymous(bytes: blockBytes * count) {
        case .failure(let e): return .failure(e)
        case .success(let p): blocks = p
        }
        var arenaNumber = _rootAtomic(_Root.arenaCount).pointee.load(ordering: .relaxed)
        for i in 0..<count {
            let ai = first + UInt(i)
            let block = blocks + i * blockBytes
            HeapArena._initialize(block, base: ai << arenaShift, node: node, pageShift: _pageShift)
            let l2 = UnsafeMutablePointer<Atomic<UInt>>(
                bitPattern: _l1[Int(ai >> UInt(ArenaLayout.arenaL2Bits))].load(ordering: .relaxed))!
            let old = l2[Int(ai & l2Mask)].load(ordering: .relaxed)
            if old != 0 {
                FatalMessage("ArenaMap: arena ").hex(ai << arenaShift)
                    .text(" reserved twice (metadata already at ").hex(old).text(")").crash()
            }
            // Publish: the header written above happens-before any acquire load that sees it.
            l2[Int(ai & l2Mask)].store(UInt(bitPattern: block), ordering: .releasing)
            _allArenas[arenaNumber] = UInt(bitPattern: block)
            arenaNumber += 1
            _rootAtomic(_Root.arenaCount).pointee.store(arenaNumber, ordering: .releasing)
        }
        let m = _rootAtomic(_Root.metadataBytes)
        m.pointee.store(m.pointee.load(ordering: .relaxed) + blockBytes * count, ordering: .relaxed)
        return .success(())
    }

    // MARK: Growing by committed ranges (map lock)

    /// Hands out the next `bytes` (a multiple of the page size) of `cursor`'s
    /// arenas, committed, reserving new arenas for `node` when the cursor runs out —
    /// Go's `mheap.grow` use of `curArena`, with commit on demand: address space is
    /// reserved 64 MiB at a time, but only what is handed out is made accessible.
    /// Map lock.
    ///
    /// When new arenas are contiguous with the cursor's, the cursor just extends;
    /// otherwise what remained of the old ones comes back in
    /// ``ArenaGrowth/leftoverBytes`` (committed) so the page allocator can use it.
    /// A leftover that cannot be committed is abandoned (it stays reserved).
    /// On failure the cursor still describes valid, registered space.
    @inlinable
    public func grow(
        _ cursor: inout ArenaCursor, bytes: Int, node: Int32, policy: MemoryBindPolicy? = nil
    ) -> Result<ArenaGrowth, ArenaMapError> {
        if bytes <= 0 || bytes & (pageSize - 1) != 0 {
            FatalMessage("ArenaMap: grow by ").decimal(bytes).text(" bytes, not a positive multiple of the page size ")
                .decimal(pageSize).crash()
        }
        var growth = ArenaGrowth(base: 0, bytes: bytes, leftoverBase: 0, leftoverBytes: 0)
        if cursor.remaining < bytes {
            let v: UInt
            switch reserveArenas(bytes: bytes, node: node, policy: policy) {
            case .failure(let e): return .failure(e)
            case .success(let b): v = b
            }
            let size = UInt((bytes + ArenaLayout.heapArenaBytes - 1) & ~(ArenaLayout.heapArenaBytes - 1))
            if v == cursor.end, cursor.end != 0 {
                cursor._end = v + size
            } else {
                if cursor.remaining > 0,
                   case .success = _space.commit(cursor.base, bytes: cursor.remaining) {
                    growth.leftoverBase = cursor.base
                    growth.leftoverBytes = cursor.remaining
                }
                cursor._base = v
                cursor._end = v + size
            }
        }
        if case .failure(let e) = _space.commit(cursor.base, bytes: bytes) {
            return .failure(.commitFailed(e))
        }
        growth.base = cursor.base
        cursor._base += UInt(bytes)
        return .success(growth)
    }
}
