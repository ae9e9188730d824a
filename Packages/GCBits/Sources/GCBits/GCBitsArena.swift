import Platform
import Synchronization

/// One 64 KiB bitmap arena (Go's `gcBitsArena`): a 16-byte header followed by
/// the bits that ``GCBitsArenas`` hands out, bump-allocated without a lock.
///
/// ```
/// offset 0      free   Atomic<UInt>   index into bits of the next free byte
/// offset 8      next   _GCBitsArena?  link in one of the arenas' lists
/// offset 16     bits   65,520 bytes   8-byte aligned
/// ```
///
/// A value of this type is the arena's address; each header field is reached
/// through its own pointer, so that a plain write of `next` is never a write
/// of the whole header while other threads bump `free` atomically (Swift's
/// access model and ThreadSanitizer both see them as separate variables).
///
/// An arena is in exactly one place at a time: on the `free` list, on the
/// `next`, `current` or `previous` list, uncarved in its batch, or in the
/// hands of the thread that is preparing it under the lock.
@usableFromInline
struct _GCBitsArena: Equatable {
    /// The arena's first byte (its header). 64-byte aligned.
    @usableFromInline let raw: UnsafeMutableRawPointer

    @inlinable init(_ raw: UnsafeMutableRawPointer) { self.raw = raw }

    /// Bytes per arena, header included (Go's `gcBitsChunkBytes`).
    @inlinable static var chunkBytes: Int { 64 << 10 }
    /// Header bytes before the bits (Go's `gcBitsHeaderBytes`).
    @inlinable static var headerBytes: Int { 16 }
    /// Bytes of bits per arena: 65,520, a multiple of 8.
    @inlinable static var capacity: Int { chunkBytes - headerBytes }

    /// Index into `bits` of the next free byte. Bumped atomically by
    /// ``tryAlloc(bytes:)`` (no lock); may run past ``capacity`` after failed
    /// attempts, which then fail too. Reset only while the arena is
    /// unreachable from `next` (under the lock).
    @inlinable var free: UnsafeMutablePointer<Atomic<UInt>> {
        raw.assumingMemoryBound(to: Atomic<UInt>.self)
    }

    /// The next arena in the list this arena is on. Read and written only with
    /// the lock held, or before the arena is published.
    @inlinable var next: UnsafeMutablePointer<_GCBitsArena?> {
        (raw + 8).assumingMemoryBound(to: _GCBitsArena?.self)
    }

    /// The first byte of the bits. The header is 16 bytes and arenas start
    /// 64-byte aligned in their batch, so every offset that is a multiple of 8
    /// is 8-byte aligned and `free` starts at 0 (Go adjusts it when its bits
    /// are not 8-aligned; ours always are).
    @inlinable var bits: UnsafeMutableRawPointer { raw + _GCBitsArena.headerBytes }

    /// Allocates `bytes` (a multiple of 8) from this arena, or returns nil when
    /// it has no room. Safe to call from any number of threads at once, and
    /// lock-free: an atomic add reserves `[end - bytes, end)`; no two callers
    /// get overlapping ranges because each add returns a distinct `end`.
    ///
    /// The add is relaxed: the range only has to be unique. The bits it covers
    /// were zeroed before the arena was published with a release store of
    /// `next` (or mapped fresh), and the caller loaded `next` with acquire.
    @inlinable
    func tryAlloc(bytes: Int) -> UnsafeMutableRawPointer? {
        let cap = UInt(bitPattern: _GCBitsArena.capacity)
        let n = UInt(bitPattern: bytes)
        // Cheap pre-check so a full arena is not bumped further by every caller.
        if free.pointee.load(ordering: .relaxed) &+ n > cap { return nil }
        let end = free.pointee.wrappingAdd(n, ordering: .relaxed).newValue
        if end > cap { return nil }
        return bits + Int(bitPattern: end &- n)
    }

    /// Prepares an arena no other thread can reach: clears its link and its
    /// bump index and, when `zero`, the whole 64 KiB (Go's
    /// `memclrNoHeapPointers` in `newArenaMayUnlock`). Called with the lock held.
    @usableFromInline
    func reset(zero: Bool) {
        if zero {
            raw.initializeMemory(as: UInt8.self, repeating: 0, count: _GCBitsArena.chunkBytes)
        }
        next.initialize(to: nil)
        free.pointee.store(0, ordering: .relaxed)
    }
}
