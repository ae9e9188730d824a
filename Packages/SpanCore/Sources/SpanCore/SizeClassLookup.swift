/// A heap's own copy of the size → size-class table, laid out for an
/// allocation fast path that knows the request's alignment.
///
/// ``SizeClasses/sizeClass(for:)`` reads SpanCore's global tables, which a
/// caller in another module reaches through an addressor call; a heap keeps
/// this copy in memory it maps itself, next to the fields its fast path
/// already holds, and reads one byte. The copy has three rows, one index
/// computation each:
///
/// - **plain**: sizes `0 ... smallSizeMax` in `smallSizeDivisor` steps, the
///   class ``SizeClasses/sizeClass(for:)`` gives;
/// - **16-byte aligned**: the same sizes, each mapped to the smallest class
///   whose object size is a multiple of 16 (8 → 16, 24 → 32; every other
///   class of the default tables already is), so a request aligned to 16
///   needs no search — spans start on page boundaries;
/// - **large**: sizes `smallSizeMax + 1 ... maxSmallSize` in
///   `largeSizeDivisor` steps (those classes are multiples of 128, so any
///   alignment ≤ 16 holds).
///
/// A value is one pointer and is freely copied; the storage
/// (``byteCount`` bytes) belongs to whoever mapped it and outlives the copies.
@frozen
public struct SizeClassLookup {
    /// Entries per small row: `smallSizeMax / smallSizeDivisor + 1` (129 for
    /// the default tables: sizes 0, 8, …, 1024).
    @inlinable @inline(__always)
    static var _smallRowEntries: Int { SizeClasses.smallSizeMax / SizeClasses.smallSizeDivisor + 1 }
    /// First entry of the 16-byte-aligned row.
    @inlinable @inline(__always)
    static var _aligned16Row: Int { _smallRowEntries }
    /// First entry of the large row.
    @inlinable @inline(__always)
    static var _largeRow: Int { 2 * _smallRowEntries }
    /// Entries of the large row: sizes above `smallSizeMax`, rounded up to
    /// `largeSizeDivisor`, up to and including `maxSmallSize`.
    @inlinable @inline(__always)
    static var _largeRowEntries: Int {
        (SizeClasses.maxSmallSize - SizeClasses.smallSizeMax + SizeClasses.largeSizeDivisor - 1)
            / SizeClasses.largeSizeDivisor + 1
    }

    /// Bytes of storage a lookup needs (one byte per entry).
    @inlinable @inline(__always)
    public static var byteCount: Int { _largeRow + _largeRowEntries }

    @usableFromInline let _entries: UnsafeMutablePointer<UInt8>

    /// Fills ``byteCount`` bytes at `storage` from ``SizeClasses`` and answers
    /// the lookup over them. Runs once per heap, at its creation.
    public init(initializing storage: UnsafeMutableRawPointer) {
        let entries = storage.bindMemory(to: UInt8.self, capacity: Self.byteCount)
        let step = SizeClasses.smallSizeDivisor
        for i in 0..<Self._smallRowEntries {
            let size = max(i * step, 1)
            let plain = SizeClasses.sizeClass(for: size)
            entries[i] = UInt8(plain)
            entries[Self._aligned16Row + i] = UInt8(SizeClasses.size(ofClass: plain) & 15 == 0
                                                    ? plain : SizeClasses.sizeClass(for: (size + 15) & ~15))
        }
        for i in 0..<Self._largeRowEntries {
            let size = min(SizeClasses.smallSizeMax + i * SizeClasses.largeSizeDivisor, SizeClasses.maxSmallSize)
            entries[Self._largeRow + i] = UInt8(SizeClasses.sizeClass(for: size))
        }
        _entries = entries
    }

    /// The class for `size` ≤ ``SizeClasses/maxSmallSize`` whose objects are
    /// aligned to `alignment`, one of 1, 2, 4, 8, 16 (the caller checked both).
    @inlinable @inline(__always)
    public func sizeClass(forSize size: UInt, alignment: Int) -> Int {
        let smallMax = UInt(SizeClasses.smallSizeMax)
        let row = size > smallMax ? Self._largeRow : alignment == 16 ? Self._aligned16Row : 0
        let entry = size > smallMax
            ? (size &- smallMax &+ UInt(SizeClasses.largeSizeDivisor &- 1)) / UInt(SizeClasses.largeSizeDivisor)
            : (size &+ UInt(SizeClasses.smallSizeDivisor &- 1)) / UInt(SizeClasses.smallSizeDivisor)
        return Int(_entries[row &+ Int(truncatingIfNeeded: entry)])
    }

    /// The 16-byte-aligned class for `size` ≤ ``SizeClasses/smallSizeMax``
    /// (the caller checked): the fast path's one-row read.
    @inlinable @inline(__always)
    public func aligned16SizeClass(forSmallSize size: UInt) -> Int {
        let entry = (size &+ UInt(SizeClasses.smallSizeDivisor &- 1)) / UInt(SizeClasses.smallSizeDivisor)
        return Int(_entries[Self._aligned16Row &+ Int(truncatingIfNeeded: entry)])
    }
}
