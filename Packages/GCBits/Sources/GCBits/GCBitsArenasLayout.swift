import Synchronization

/// The header at the start of every batch mapping. Batches are mapped
/// ``_GCBitsBatch/arenaCount`` arenas at a time (1 MiB of bits per `mmap`) and
/// never unmapped before ``GCBitsArenas/destroy()``; this header only links
/// them so that `destroy` can find them.
@usableFromInline
struct _GCBitsBatchHeader {
    /// The batch mapped before this one. Written once, under the lock, before
    /// the batch is linked; read by `destroy` and `statistics`.
    @usableFromInline var next: UnsafeMutablePointer<_GCBitsBatchHeader>?
}

@usableFromInline
enum _GCBitsBatch {
    /// Arenas carved from one mapping.
    @inlinable static var arenaCount: Int { 16 }
    /// Bytes before the first arena (the batch header, padded to a cache line
    /// so every arena starts 64-byte aligned).
    @inlinable static var headerBytes: Int { 64 }
    /// The length passed to `mmap`/`munmap` (the kernel rounds it up to a page).
    @inlinable static var mappingBytes: Int { headerBytes + arenaCount * _GCBitsArena.chunkBytes }
}

/// The arenas' control block (Go's `gcBitsArenas` variable), three cache
/// lines' worth of mapped memory — a page ``GCBitsArenas/init()`` maps, or
/// memory the heap hands to ``GCBitsArenas/init(controlBlock:)`` — never the
/// Swift heap:
///
/// ```
/// offset   0   lock     RawLock         (its own cache line; RawLock.byteCount ≤ 64)
/// offset  64   next     Atomic<UInt>    (its own cache line: read on every fast path)
/// offset 128   locked   _GCBitsArenasLocked
/// ```
///
/// Each part is reached through its own pointer, so that writes of the
/// lock-protected fields are never formal writes of the lock's or `next`'s
/// memory.
///
/// The lock's rule is at its declaration, `GCBitsArenas._lock`. In short:
/// `lock` protects every field of `locked` and the `next` link of every arena
/// on the `free`, `next`, `current` and `previous` lists; `next` (the head of
/// the `next` list, an arena's address or 0) is read atomically (acquire)
/// without the lock by `newMarkBits`' fast path and written only with the lock
/// held, atomically (release), after the arena it names is fully prepared.
@usableFromInline
enum _GCBitsArenasLayout {
    @inlinable static var lockOffset: Int { 0 }
    @inlinable static var nextOffset: Int { 64 }
    @inlinable static var lockedOffset: Int { 128 }
    @inlinable static var byteCount: Int { lockedOffset + MemoryLayout<_GCBitsArenasLocked>.stride }
    @inlinable static var alignment: Int { 64 }
}

/// The fields of the control block that `lock` protects. All under `lock`.
@usableFromInline
struct _GCBitsArenasLocked {
    /// Arenas whose bits nobody uses any more (dirty: cleared when reused).
    @usableFromInline var free: _GCBitsArena? = nil
    /// The arenas that were `next` before the last epoch: this cycle's mark bits.
    @usableFromInline var current: _GCBitsArena? = nil
    /// The arenas that were `current` before the last epoch: the alloc bits of
    /// spans not yet swept.
    @usableFromInline var previous: _GCBitsArena? = nil
    /// The next never-used arena of the newest batch, and how many are left there.
    @usableFromInline var carve: UnsafeMutableRawPointer? = nil
    @usableFromInline var carveRemaining: Int = 0
    /// Every batch mapped, newest first, and their number.
    @usableFromInline var batches: UnsafeMutablePointer<_GCBitsBatchHeader>? = nil
    @usableFromInline var batchCount: Int = 0
    /// Number of `nextMarkBitArenaEpoch` calls so far.
    @usableFromInline var epoch: Int = 0
    /// Whether `init()` mapped this control block (so `destroy` unmaps it).
    /// Written once by `init`.
    @usableFromInline var ownsControlBlock: Bool
    /// Test seam: called with the lock dropped, just before a batch is
    /// mapped, with the control block's address, so a test can make another
    /// allocation in that window — the race that Go's `newMarkBits` re-checks
    /// `next` for (LockDropRaceTests). Set by tests while no other thread uses
    /// these arenas; nil otherwise. In release builds too, so that the race
    /// tests run against the optimised code (`swift test -c release`): the
    /// cost is one load and branch per batch mapped (1 MiB of bits).
    @usableFromInline var testHookBeforeMap: (@convention(c) (UnsafeMutableRawPointer) -> Void)? = nil

    @inlinable init(ownsControlBlock: Bool) { self.ownsControlBlock = ownsControlBlock }
}
