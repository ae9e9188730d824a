import Platform
import Synchronization

/// Epochs, statistics and teardown: the parts of ``GCBitsArenas`` that walk its
/// lists under the lock.
extension GCBitsArenas {
    /// Starts a new epoch (Go's `nextMarkBitArenaEpoch`): the `previous`
    /// arenas go to the free list, `current` becomes `previous`, `next`
    /// becomes `current`, and `next` starts empty (the next ``newMarkBits(_:)``
    /// installs an arena).
    ///
    /// Call it once per collection cycle, after every span has been swept —
    /// so that no span's alloc bits are in `previous` any more — and while no
    /// thread runs ``newMarkBits(_:)``. Bits in `current` and `previous` stay
    /// valid; bits that were in `previous` may be handed out again, cleared.
    public func nextMarkBitArenaEpoch() {
        let locked = _locked
        _lock.lock()
        if let previous = locked.pointee.previous {
            if locked.pointee.free != nil {
                // Find the end of the previous arenas and splice the free list after it.
                var last = previous
                while let n = last.next.pointee { last = n }
                last.next.pointee = locked.pointee.free
            }
            locked.pointee.free = previous
        }
        locked.pointee.previous = locked.pointee.current
        locked.pointee.current = _loadNext()
        _storeNext(nil)
        locked.pointee.epoch += 1
        _lock.unlock()
    }

    /// A snapshot of where the arenas are.
    public struct Statistics: Equatable, Sendable {
        /// Arenas on each list.
        public var freeArenas: Int
        public var nextArenas: Int
        public var currentArenas: Int
        public var previousArenas: Int
        /// Arenas mapped but never handed out yet.
        public var uncarvedArenas: Int
        /// Batches mapped, and their bytes (Go's `memstats.gc_sys` share).
        public var batches: Int
        public var mappedBytes: Int
        /// `nextMarkBitArenaEpoch` calls so far.
        public var epoch: Int
    }

    /// The arenas' lists counted under the lock (walks them: for tests and
    /// statistics, not hot paths).
    public var statistics: Statistics {
        let locked = _locked
        _lock.lock()
        defer { _lock.unlock() }
        func count(_ head: _GCBitsArena?) -> Int {
            var n = 0
            var a = head
            while let x = a { n += 1; a = x.next.pointee }
            return n
        }
        return Statistics(
            freeArenas: count(locked.pointee.free),
            nextArenas: count(_loadNext()),
            currentArenas: count(locked.pointee.current),
            previousArenas: count(locked.pointee.previous),
            uncarvedArenas: locked.pointee.carveRemaining,
            batches: locked.pointee.batchCount,
            mappedBytes: locked.pointee.batchCount * _GCBitsBatch.mappingBytes,
            epoch: locked.pointee.epoch)
    }

    /// Unmaps every arena and, when ``init()`` mapped it, the control block.
    /// Every ``GCBits`` from these arenas and every copy of this handle dangle
    /// afterwards. No other call may run concurrently or later.
    public func destroy() {
        let locked = _locked
        _lock.lock()
        var batch = locked.pointee.batches
        locked.pointee.batches = nil
        locked.pointee.batchCount = 0
        let owns = locked.pointee.ownsControlBlock
        _lock.unlock()
        while let b = batch {
            batch = b.pointee.next
            if case .failure(let e) = SystemMemory.unmap(UnsafeMutableRawPointer(b), bytes: _GCBitsBatch.mappingBytes) {
                FatalMessage("GCBits: munmap of arena batch ").hex(UnsafeRawPointer(b))
                    .text(" failed with errno ").decimal(Int(e.code)).crash()
            }
        }
        _next.deinitialize(count: 1)
        _locked.deinitialize(count: 1)
        if owns {
            let bytes = (GCBitsArenas.controlBlockByteCount + SystemMemory.physicalPageSize - 1)
                & ~(SystemMemory.physicalPageSize - 1)
            _ = SystemMemory.unmap(_base, bytes: bytes)
        }
    }
}
