/// The constants that turn "object index of a byte offset in a span" into
/// shifts and a multiply (Go's `divMagic`, plus Go 1.17's 32-bit form).
///
/// Go 1.14 form, for offset `n` in `0 ... spanBytes`:
///
///     n / size == ((n >> divShift) * divMul) >> divShift2
///
/// `divShift` factors the powers of two out of `size`; `divMul = ⌈2^k / d⌉`
/// for the odd part `d` and the smallest `k` (`divShift2`) for which the
/// formula is exact for every offset; `baseMask = 2^16 − size` when `size` is
/// a power of two (so `offset & baseMask` rounds down to an object base) and 0
/// otherwise. Go stores them as `uint8, uint8, uint16, uint16`.
///
/// Go 1.17 form: `n / size == (n * divMul32) >> 32` with
/// `divMul32 = ⌊(2^32 − 1) / size⌋ + 1`.
public struct DivMagic: Hashable, Sendable {
    public var divShift: Int
    public var divShift2: Int
    public var divMul: Int
    public var baseMask: Int
    public var divMul32: UInt32

    public init(divShift: Int, divShift2: Int, divMul: Int, baseMask: Int, divMul32: UInt32) {
        self.divShift = divShift
        self.divShift2 = divShift2
        self.divMul = divMul
        self.baseMask = baseMask
        self.divMul32 = divMul32
    }

    /// Class 0's all-zero entry.
    public static let zero = DivMagic(divShift: 0, divShift2: 0, divMul: 0, baseMask: 0, divMul32: 0)

    /// Computes the constants for objects of `size` bytes in a span of
    /// `spanBytes` bytes, and checks both forms for every offset
    /// `0 ... spanBytes` (Go checks the one-past-the-end offset too).
    ///
    /// Throws a one-line reason when a constant does not fit Go's field width:
    /// `divMul` must be below 2^16, `divMul · (spanBytes >> divShift)` below
    /// 2^32 (so the 32-bit multiply cannot overflow), and for a power-of-two
    /// size every offset must fit the 16-bit `baseMask`.
    public static func compute(size: Int, spanBytes: Int) throws(DivMagicOverflow) -> DivMagic {
        precondition(size > 0 && spanBytes >= size, "DivMagic.compute: bad size \(size) / span \(spanBytes)")
        var d = size
        var max = spanBytes
        var baseMask = 0
        if d & (d - 1) == 0 {
            // The mask trick needs every offset of the span (0 ..< spanBytes)
            // to fit in 16 bits. Go 1.14 tests `max >= 1<<16`, one byte
            // stricter, which rejects every table with 64 KiB pages; a span of
            // exactly 64 KiB still has all its offsets below 2^16.
            guard spanBytes <= 1 << 16 else {
                throw DivMagicOverflow("baseMask of size \(size) needs its \(spanBytes)-byte span within 65536 bytes")
            }
            baseMask = (1 << 16) - d
        }

        // Factor the powers of two out of d: they become a plain shift.
        var shift = 0
        while d & 1 == 0 {
            shift += 1
            d >>= 1
            max >>= 1
        }

        // The smallest k for which ⌈2^k/d⌉ divides exactly over 0...max.
        var k = 0
        var mul = 0
        while true {
            mul = ((1 << k) + d - 1) / d
            if DivMagic.multiplyDivides(mul: mul, shift: k, divisor: d, through: max) { break }
            k += 1
            precondition(k < 48, "DivMagic.compute: no multiplier for \(d) through \(max)")
        }
        guard mul < 1 << 16 else {
            throw DivMagicOverflow("divMul \(mul) of size \(size) (\(spanBytes)-byte span) needs more than 16 bits")
        }
        guard mul * max < 1 << 32 else {
            throw DivMagicOverflow("divMul \(mul) × \(max) of size \(size) (\(spanBytes)-byte span) overflows 32 bits")
        }

        // Go 1.17's form, checked exhaustively for every offset.
        let mul32 = UInt32.max / UInt32(size) &+ 1
        var quotient: UInt64 = 0, remainder = 0
        for n in 0...spanBytes {
            if (UInt64(n) &* UInt64(mul32)) >> 32 != quotient {
                throw DivMagicOverflow("divMul32 \(mul32) of size \(size) is inexact at offset \(n) of its \(spanBytes)-byte span")
            }
            remainder += 1
            if remainder == size { remainder = 0; quotient += 1 }
        }
        return DivMagic(divShift: shift, divShift2: k, divMul: mul, baseMask: baseMask, divMul32: mul32)
    }

    /// Whether `(n * mul) >> shift == n / divisor` for every n in 0...max.
    static func multiplyDivides(mul: Int, shift: Int, divisor: Int, through max: Int) -> Bool {
        var quotient = 0, remainder = 0, product = 0
        for _ in 0...max {
            if product >> shift != quotient { return false }
            product += mul
            remainder += 1
            if remainder == divisor { remainder = 0; quotient += 1 }
        }
        return true
    }

    /// `offset / size` through the Go 1.14 form.
    public func index(ofOffset offset: Int) -> Int {
        ((offset >> divShift) * divMul) >> divShift2
    }

    /// `offset / size` through the Go 1.17 form.
    public func index32(ofOffset offset: Int) -> Int {
        Int((UInt64(offset) * UInt64(divMul32)) >> 32)
    }
}

/// A divmagic constant that does not fit its field; the message names it.
public struct DivMagicOverflow: Error, Equatable, Sendable, CustomStringConvertible {
    public let description: String
    init(_ description: String) { self.description = description }
}
