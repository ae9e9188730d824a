/// Where object `index` of a span sits in the span's per-object bitmaps
/// (`allocBits`, the local and remote free bits, the 64-object `allocCache`):
/// 64 objects a word, object `index` at bit `index % 64` of word `index / 64`
/// (Go's `gcBits` addressing, `mbitmap.go`). Every helper is a shift or a
/// mask of a constant: the emitted code is the arithmetic written out.
@frozen
public enum ObjectBits {
    /// Objects per bitmap word.
    @inlinable @inline(__always) public static var perWord: Int { 64 }

    /// The word holding object `index`'s bit.
    @inlinable @inline(__always)
    public static func word(_ index: Int) -> Int { index >> perWord.trailingZeroBitCount }

    /// Object `index`'s bit within its word.
    @inlinable @inline(__always)
    public static func mask(_ index: Int) -> UInt64 { 1 << UInt64(index & (perWord &- 1)) }

    /// True when object `index` is the first of a word.
    @inlinable @inline(__always)
    public static func startsWord(_ index: Int) -> Bool { index & (perWord &- 1) == 0 }

    /// The first object of the word after the one holding `index`.
    @inlinable @inline(__always)
    public static func nextWordStart(_ index: Int) -> Int { (index &+ perWord) & ~(perWord &- 1) }

    /// Words a bitmap of `count` objects spans.
    @inlinable @inline(__always)
    public static func words(_ count: Int) -> Int { (count &+ perWord &- 1) >> perWord.trailingZeroBitCount }

    /// The bits of word `word` for the objects below `limit` (all of the
    /// word's bits when `limit` is past it, none when it is before it).
    @inlinable @inline(__always)
    public static func mask(below limit: Int, inWord word: Int) -> UInt64 {
        let low = word &* perWord
        return limit >= low &+ perWord ? ~0 : (limit <= low ? 0 : (1 << UInt64(limit &- low)) &- 1)
    }
}
