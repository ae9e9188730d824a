import Platform
import Synchronization

/// The slow path of `newMarkBits`: installing a new arena at the head of
/// `next` when the head is full (Go's second half of `newMarkBits` and
/// `newArenaMayUnlock`).
extension GCBitsArenas {
    @usableFromInline @inline(never)
    func _newMarkBitsSlow(bytes: Int) throws(SystemError) -> GCBits {
        _lock.lock()
        // The head may have changed while we were not holding the lock. Now
        // that we hold it the head cannot change, but its free index can.
        if let p = _loadNext()?.tryAlloc(bytes: bytes) {
            _lock.unlock()
            return GCBits(unchecked: p)
        }

        // May drop and retake the lock around mmap.
        let fresh: _GCBitsArena
        switch _newArenaMayUnlock() {
        case .success(let a): fresh = a
        case .failure(let e):
            _lock.unlock()
            throw e
        }

        // If the lock was dropped, another thread may have installed an arena
        // with room; use it and keep ours for later, on the free list (like Go,
        // which notes it could be marked "already zeroed").
        if let p = _loadNext()?.tryAlloc(bytes: bytes) {
            fresh.next.pointee = _locked.pointee.free
            _locked.pointee.free = fresh
            _lock.unlock()
            return GCBits(unchecked: p)
        }

        // Not yet published, so this cannot race, and `bytes` was checked
        // against the capacity by `newMarkBits`.
        guard let p = fresh.tryAlloc(bytes: bytes) else {
            FatalMessage("GCBits: markBits overflow: ").decimal(bytes)
                .text(" bytes from a fresh arena of ").decimal(_GCBitsArena.capacity).crash()
        }
        fresh.next.pointee = _loadNext()
        _storeNext(fresh)
        _lock.unlock()
        return GCBits(unchecked: p)
    }

    /// Returns an unlinked, zeroed arena with `free == 0`, taken from the free
    /// list (and cleared), carved from the newest batch, or carved from a batch
    /// mapped now. Caller holds the lock; this may release and retake it
    /// (around `mmap`), so the caller must re-read anything it read under the
    /// lock before. On failure the lock is held again and nothing has changed.
    @usableFromInline
    func _newArenaMayUnlock() -> Result<_GCBitsArena, SystemError> {
        let locked = _locked
        if let arena = locked.pointee.free {
            locked.pointee.free = arena.next.pointee
            arena.reset(zero: true)
            return .success(arena)
        }
        if locked.pointee.carveRemaining == 0 {
            _lock.unlock()
            locked.pointee.testHookBeforeMap?(_base)
            let mapped = SystemMemory.mapAnonymous(bytes: _GCBitsBatch.mappingBytes)
            _lock.lock()
            let raw: UnsafeMutableRawPointer
            switch mapped {
            case .success(let p): raw = p
            case .failure(let e): return .failure(e)
            }
            let batch = raw.bindMemory(to: _GCBitsBatchHeader.self, capacity: 1)
            batch.initialize(to: _GCBitsBatchHeader(next: locked.pointee.batches))
            locked.pointee.batches = batch
            locked.pointee.batchCount += 1
            // Another thread may have installed a batch while the lock was
            // dropped. Its uncarved arenas go to the free list (cleared again
            // on reuse: correct, and this race is rare); carving moves on to ours.
            while locked.pointee.carveRemaining > 0 {
                let leftover = _GCBitsArena(locked.pointee.carve!)
                leftover.next.pointee = locked.pointee.free
                locked.pointee.free = leftover
                locked.pointee.carve! += _GCBitsArena.chunkBytes
                locked.pointee.carveRemaining -= 1
            }
            locked.pointee.carve = raw + _GCBitsBatch.headerBytes
            locked.pointee.carveRemaining = _GCBitsBatch.arenaCount
        }
        // Fresh from mmap: already zero, header included.
        let arena = _GCBitsArena(locked.pointee.carve!)
        locked.pointee.carve! += _GCBitsArena.chunkBytes
        locked.pointee.carveRemaining -= 1
        return .success(arena)
    }
}
