import Platform

/// A bitmap of one bit per object: a span's mark bits, alloc bits or free bits
/// (Go's `gcBits`, always used through a pointer).
///
/// `GCBits` is a pointer-sized value wrapping the address of the bitmap's first
/// byte; it owns nothing. Copies name the same bitmap. The memory usually comes
/// from ``GCBitsArenas/newMarkBits(_:)`` and lives until the arena epoch that
/// holds it is recycled (see `Docs/GCBits.md`).
///
/// ## Layout
/// Bit `n` is bit `n % 8` of byte `n / 8` (Go's `bitp`). Because the machine is
/// little-endian, that is also bit `n % 64` of the 64-bit word `n / 64`, so the
/// byte view (``bytep(_:)``, ``bitp(_:)``, ``isSet(_:)``, ``set(_:)``) and the word
/// view (``setAtomic(_:)``, ``testAtomic(_:)``, ``load64(atBit:)``,
/// ``atomicExchangeWord(index:with:)``) agree bit for bit.
///
/// A bitmap for `nelems` objects covers ``byteCount(forElements:)`` bytes: whole
/// 64-bit words, 8-byte aligned. The bits past `nelems` in the last word belong
/// to the bitmap (they read as zero in fresh bitmaps) and may be read by the
/// word operations.
///
/// ## Atomic and plain access
/// The atomic operations work on the containing **64-bit word**, never on a
/// byte: the heap sweeps free bits out of a bitmap with
/// ``atomicExchangeWord(index:with:)`` while other threads set bits with
/// ``setAtomic(_:)``, and atomics of different sizes on overlapping memory are
/// outside the memory model (and split-lock prone). A word OR with a single-bit
/// mask also compiles to one `lock bts` on x86-64. This is why the base must be
/// 8-byte aligned, which ``GCBitsArenas`` guarantees.
///
/// The plain accessors (`isSet`, `set`, `clear`, `clearAll`, `popcount`,
/// `load64`) are for bitmaps that no other thread writes at the same time — a
/// span owned by one thread, or a collector phase with the mutators stopped.
/// Use the atomic ones whenever another thread may write concurrently.
@frozen
public struct GCBits: Equatable, Hashable, @unchecked Sendable {
    /// The bitmap's first byte. 8-byte aligned. Immutable.
    public let base: UnsafeMutableRawPointer

    /// Wraps an existing bitmap. `base` must be 8-byte aligned (a fatal error
    /// otherwise, with the address); the memory must cover whole 64-bit words.
    @inlinable
    public init(_ base: UnsafeMutableRawPointer) {
        if _slowPath(UInt(bitPattern: base) & 7 != 0) {
            FatalMessage("GCBits: bitmap base ").hex(UnsafeRawPointer(base))
                .text(" is not 8-byte aligned").crash()
        }
        self.base = base
    }

    /// Wraps a pointer the caller has already checked (arena allocations).
    @inlinable
    init(unchecked base: UnsafeMutableRawPointer) {
        self.base = base
    }

    /// The bytes a bitmap of `nelems` bits occupies: `nelems` rounded up to
    /// whole 64-bit words, as Go's `newMarkBits` sizes them.
    @inlinable
    public static func byteCount(forElements nelems: Int) -> Int {
        ((nelems &+ 63) >> 6) << 3
    }

    // MARK: Byte view (Go's bytep / bitp)

    /// The `n`th byte of the bitmap (bits `8n ..< 8n+8`).
    @inlinable
    public func bytep(_ n: Int) -> UnsafeMutablePointer<UInt8> {
        (base + n).assumingMemoryBound(to: UInt8.self)
    }

    /// The byte that holds bit `n` and the mask that selects it in that byte.
    @inlinable
    public func bitp(_ n: Int) -> (bytep: UnsafeMutablePointer<UInt8>, mask: UInt8) {
        (bytep(n >> 3), UInt8(truncatingIfNeeded: 1 &<< (n & 7)))
    }

    /// Whether bit `n` is set (plain load).
    @inlinable
    public func isSet(_ n: Int) -> Bool {
        let (p, mask) = bitp(n)
        return p.pointee & mask != 0
    }

    /// Sets bit `n` (plain read-modify-write of its byte; not atomic).
    @inlinable
    public func set(_ n: Int) {
        let (p, mask) = bitp(n)
        p.pointee |= mask
    }

    /// Clears bit `n` (plain read-modify-write of its byte; not atomic).
    @inlinable
    public func clear(_ n: Int) {
        let (p, mask) = bitp(n)
        p.pointee &= ~mask
    }

    /// Clears the ``byteCount(forElements:)`` bytes of a bitmap for `nelems`
    /// objects (plain stores).
    @inlinable
    public func clearAll(_ nelems: Int) {
        base.initializeMemory(as: UInt8.self, repeating: 0, count: GCBits.byteCount(forElements: nelems))
    }

    // MARK: Word view

    /// The 64 bits starting at bit `n`, bit `n` in the least significant
    /// position — the little-endian load of bytes `n/8 ..< n/8 + 8` that Go's
    /// `refillAllocCache` assembles byte by byte. The heap's `allocCache` is the
    /// complement of this value.
    ///
    /// `n` must be a multiple of 8 and those 8 bytes must lie inside the bitmap
    /// (always so when `n` is a multiple of 64 below the bitmap's bit count).
    /// Plain (non-atomic) load.
    @inlinable
    public func load64(atBit n: Int) -> UInt64 {
        assert(n & 7 == 0, "GCBits.load64(atBit:) needs a multiple of 8")
        return UInt64(littleEndian: UnsafeRawPointer(base + (n >> 3)).loadUnaligned(as: UInt64.self))
    }

    /// The number of set bits among bits `0 ..< nelems` (Go's `countAlloc`:
    /// the number of marked objects). Plain loads, a word at a time.
    @inlinable
    public func popcount(_ nelems: Int) -> Int {
        let words = BitIndex.word(nelems)
        let p = UnsafeRawPointer(base)
        var count = 0
        var i = 0
        while i < words {
            count &+= p.load(fromByteOffset: i << 3, as: UInt64.self).nonzeroBitCount
            i &+= 1
        }
        let rest = BitIndex.offset(nelems)
        if rest != 0 {
            let last = UInt64(littleEndian: p.load(fromByteOffset: words << 3, as: UInt64.self))
            count &+= (last & ((1 &<< UInt64(rest)) &- 1)).nonzeroBitCount
        }
        return count
    }
}
