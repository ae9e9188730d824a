// The word/bit split of a CPU or node number in a bitmask of 64-bit words (a
// CPUSet, a node's CPU words in the topology snapshot, mbind's node mask):
// number `n` is bit `n % 64` of word `n / 64`. Inlined everywhere, so each use
// compiles to the arithmetic it names. Numbers are never negative here (each
// caller checks its range first).

/// The word of a bitmask that holds bit `n`.
@inlinable @inline(__always)
func bitWord(_ n: Int) -> Int { n / 64 }

/// Bit `n`'s mask in its word, ``bitWord(_:)``.
@inlinable @inline(__always)
func bitMask(_ n: Int) -> UInt64 { 1 << UInt64(n % 64) }
