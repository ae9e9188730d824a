/// SplitMix64 (Steele, Lea and Flood's generator, as in `java.util.SplittableRandom`):
/// a tiny, seeded, reproducible source of 64-bit values for tests, benchmarks
/// and one-off mixing (a heap's random key). Not for cryptography.
///
/// A value type with no allocation, so code that must not allocate may use it.
@frozen
public struct SplitMix64: RandomNumberGenerator, Sendable {
    /// The state: the seed advanced by the golden-ratio increment per value.
    public var state: UInt64

    @inlinable
    public init(seed: UInt64) { state = seed }

    @inlinable
    public mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }

    /// A value in `0..<n` (`n` > 0), by modulo: bias below 2⁻³² for the sizes tests use.
    @inlinable
    public mutating func below(_ n: Int) -> Int { Int(next() % UInt64(n)) }
}
