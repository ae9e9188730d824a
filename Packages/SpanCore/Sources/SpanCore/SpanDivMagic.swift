/// Division by a size class's object size without a divide instruction
/// (Go's `divMagic`, and Go 1.17's 32-bit reciprocal).
///
/// For every byte offset `n` in `0 ... pages · pageSize` of a span of the
/// class (checked exhaustively by the generator and by SpanCore's tests):
///
///     n / size == ((n >> shift) * mul) >> shift2     (Go 1.14)
///     n / size == (n * mul32) >> 32                   (Go 1.17)
///
/// and for a power-of-two size, `n & baseMask` rounds `n` down to the start of
/// its object (`baseMask = 2^16 − size`; 0 for other sizes). The products fit
/// in 32 bits (`mul · (spanBytes >> shift) < 2^32`), so 32-bit arithmetic
/// would do as well.
public struct SpanDivMagic: Hashable, Sendable {
    public var shift: UInt8
    public var shift2: UInt8
    public var mul: UInt16
    public var baseMask: UInt16
    public var mul32: UInt32

    @inlinable
    public init(shift: UInt8, shift2: UInt8, mul: UInt16, baseMask: UInt16, mul32: UInt32) {
        self.shift = shift
        self.shift2 = shift2
        self.mul = mul
        self.baseMask = baseMask
        self.mul32 = mul32
    }

    /// The index of the object holding byte `offset` of a span (Go 1.14 form).
    @inlinable @inline(__always)
    public func objectIndex(ofOffset offset: UInt) -> UInt {
        ((offset &>> UInt(shift)) &* UInt(mul)) &>> UInt(shift2)
    }

    /// The index of the object holding byte `offset` of a span (Go 1.17 form).
    @inlinable @inline(__always)
    public func objectIndex32(ofOffset offset: UInt32) -> UInt32 {
        UInt32(truncatingIfNeeded: (UInt64(offset) &* UInt64(mul32)) &>> 32)
    }
}
