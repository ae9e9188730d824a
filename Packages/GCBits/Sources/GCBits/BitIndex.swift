// The word/bit split of an object index in a bitmap's word view (64 objects to
// a UInt64 word, object `n` in bit `n % 64` of word `n / 64`; see ``GCBits``'s
// layout). Inlined everywhere, so each use compiles to the shift and mask it
// names. Indices are never negative.

/// The 64-bit word that holds bit `n`.
@inlinable @inline(__always)
func bitWord(_ n: Int) -> Int { n >> 6 }

/// Bit `n`'s position in its word, ``bitWord(_:)`` (0..<64).
@inlinable @inline(__always)
func bitOffset(_ n: Int) -> Int { n & 63 }

/// Bit `n`'s mask in its word.
@inlinable @inline(__always)
func bitMask(_ n: Int) -> UInt64 { UInt64(1) &<< UInt64(n & 63) }
