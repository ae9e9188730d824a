/// Number formatting for the renderers, without Foundation: right-aligned
/// integers (Go's `%5d`) and fixed two-decimal floats (Go's `%8.2f`).
enum DecimalFormatting {
    /// `value` right-aligned in `width` columns.
    static func padded(_ value: Int, _ width: Int) -> String {
        padded(String(value), width)
    }

    static func padded(_ text: String, _ width: Int) -> String {
        text.count >= width ? text : String(repeating: " ", count: width - text.count) + text
    }

    /// `text` left-aligned in `width` columns (Go's `%-9s`).
    static func leftAligned(_ text: String, _ width: Int) -> String {
        text.count >= width ? text : text + String(repeating: " ", count: width - text.count)
    }

    /// `value` (finite, ≥ 0) with exactly two decimals, rounded as Go's
    /// `%.2f` does: from the exact binary value of the double, ties to even.
    static func twoDecimals(_ value: Double) -> String {
        precondition(value.isFinite && value >= 0 && value < 1e15, "twoDecimals: \(value)")
        // value = significand · 2^exponent exactly, significand < 2^53.
        let exponent = Int(value.exponent) - Double.significandBitCount
        let significand = value.significandBitPattern | (value.isNormal ? 1 << UInt64(Double.significandBitCount) : 0)
        // hundredths = round(significand · 100 · 2^exponent), ties to even.
        let scaled = significand * 100   // < 2^60
        var hundredths: UInt64
        if value == 0 {
            hundredths = 0
        } else if exponent >= 0 {
            hundredths = scaled << UInt64(exponent)
        } else if -exponent >= 64 {
            hundredths = 0
            let half = -exponent == 64 ? UInt64(1) << 63 : 0
            if half != 0 && scaled > half { hundredths = 1 }
        } else {
            let shift = UInt64(-exponent)
            hundredths = scaled >> shift
            let remainder = scaled & ((1 << shift) - 1)
            let half = UInt64(1) << (shift - 1)
            if remainder > half || (remainder == half && hundredths & 1 == 1) { hundredths += 1 }
        }
        let fraction = hundredths % 100
        return "\(hundredths / 100)." + (fraction < 10 ? "0" : "") + "\(fraction)"
    }
}
