// The word/bit split of a page index in a chunk bitmap (``PallocBits``): 64
// pages to a UInt64 word, page `i` in bit `i % 64` of word `i / 64`. Inlined
// everywhere, so each use compiles to the shift or mask it names.

/// The bitmap word that holds bit `i`.
@inlinable @inline(__always)
func bitWord(_ i: UInt) -> Int { Int(i >> 6) }

/// Bit `i`'s position in its word, ``bitWord(_:)`` (0..<64).
@inlinable @inline(__always)
func bitOffset(_ i: UInt) -> UInt { i & 63 }

/// The index of bit 0 of word `w`.
@inlinable @inline(__always)
func firstBit(ofWord w: Int) -> UInt { UInt(w) << 6 }
