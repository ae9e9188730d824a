/// The word/bit split of bit `n` in a bitmap of 64-bit words — bit `n % 64`
/// of word `n / 64` — for every bitmap of the heap: a CPU set and mbind's
/// node mask (Platform), an arena's page bits (ArenaMap), a chunk's page bits
/// (PageAlloc), a span's object bits (SpanCore, Go's `gcBits` addressing in
/// `mbitmap.go`), the collector's mark bits (GCBits). Indices are never
/// negative. Each helper is a shift or a mask of a constant, inlined: the
/// emitted code is the arithmetic it names.
@frozen
public enum BitIndex {
    /// Bits per bitmap word.
    @inlinable @inline(__always) public static var bitsPerWord: Int { 64 }

    /// The word holding bit `n`.
    @inlinable @inline(__always)
    public static func word(_ n: Int) -> Int { n >> 6 }

    /// The word holding bit `n`.
    @inlinable @inline(__always)
    public static func word(_ n: UInt) -> Int { Int(n >> 6) }

    /// Bit `n`'s position in its word (0 ..< 64).
    @inlinable @inline(__always)
    public static func offset(_ n: Int) -> Int { n & 63 }

    /// Bit `n`'s position in its word (0 ..< 64).
    @inlinable @inline(__always)
    public static func offset(_ n: UInt) -> UInt { n & 63 }

    /// Bit `n`'s mask in its word.
    @inlinable @inline(__always)
    public static func mask(_ n: Int) -> UInt64 { 1 << UInt64(n & 63) }

    /// The index of bit 0 of word `word`.
    @inlinable @inline(__always)
    public static func firstBit(ofWord word: Int) -> Int { word << 6 }

    /// True when bit `n` is the first of its word.
    @inlinable @inline(__always)
    public static func startsWord(_ n: Int) -> Bool { n & 63 == 0 }

    /// The first bit of the word after the one holding `n`.
    @inlinable @inline(__always)
    public static func nextWordStart(_ n: Int) -> Int { (n &+ 64) & ~63 }

    /// Words a bitmap of `count` bits spans.
    @inlinable @inline(__always)
    public static func words(_ count: Int) -> Int { (count &+ 63) >> 6 }

    /// The bits of word `word` for the indices below `limit`: all of them when
    /// `limit` is past the word, none when it is at or before its first bit.
    @inlinable @inline(__always)
    public static func mask(below limit: Int, inWord word: Int) -> UInt64 {
        let low = word << 6
        return limit >= low &+ 64 ? ~0 : (limit <= low ? 0 : (1 << UInt64(limit &- low)) &- 1)
    }
}
