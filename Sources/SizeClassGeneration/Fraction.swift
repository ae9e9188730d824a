/// A non-negative rational number `numerator / denominator`, used for the
/// tail-waste bound so that Go's integer test `allocsize%size > allocsize/8`
/// is reproduced exactly (as `allocsize % size > allocsize * n / d`).
///
/// Invariant: `denominator > 0`; the fraction is kept in lowest terms.
public struct Fraction: Hashable, Sendable, CustomStringConvertible {
    public let numerator: Int
    public let denominator: Int

    public init(_ numerator: Int, _ denominator: Int) {
        precondition(denominator > 0, "Fraction: denominator must be positive")
        let g = Fraction.gcd(numerator.magnitude, denominator.magnitude)
        self.numerator = g == 0 ? numerator : numerator / Int(g)
        self.denominator = g == 0 ? denominator : denominator / Int(g)
    }

    /// Parses `"1/8"`, `"0.125"` or `"12.5%"`. Returns nil for anything else
    /// (including a zero denominator and more than 9 decimal digits).
    public init?(parsing text: String) {
        var text = Substring(text)
        var scale = 1
        if text.hasSuffix("%") { text = text.dropLast(); scale = 100 }
        if let slash = text.firstIndex(of: "/") {
            guard scale == 1,
                  let n = Int(text[..<slash]), let d = Int(text[text.index(after: slash)...]),
                  d > 0, n.magnitude < 1 << 31, d < 1 << 31 else { return nil }
            self.init(n, d)
            return
        }
        var negative = false
        if text.first == "-" { negative = true; text = text.dropFirst() }
        let parts = text.split(separator: ".", maxSplits: 1, omittingEmptySubsequences: false)
        guard let whole = parts.first, !(whole.isEmpty && parts.count == 1),
              whole.allSatisfy(\.isASCII), whole.allSatisfy(\.isNumber) else { return nil }
        let fraction = parts.count == 2 ? parts[1] : ""
        guard fraction.allSatisfy(\.isASCII), fraction.allSatisfy(\.isNumber),
              fraction.count <= 9, whole.count <= 9, !(whole.isEmpty && fraction.isEmpty) else { return nil }
        var denominator = scale
        for _ in 0..<fraction.count { denominator *= 10 }
        let digits = Int(whole + fraction) ?? 0
        self.init(negative ? -digits : digits, denominator)
    }

    /// ⌊x · numerator / denominator⌋ for x ≥ 0 (Go's `x/8` for 1/8).
    @inlinable
    public func floorOfProduct(with x: Int) -> Int {
        let (high, low) = x.multipliedFullWidth(by: numerator)
        precondition(high == 0 || (high == -1 && Int(bitPattern: low) < 0), "Fraction: overflow")
        return Int(bitPattern: low) / denominator
    }

    public var description: String { denominator == 1 ? "\(numerator)" : "\(numerator)/\(denominator)" }

    static func gcd(_ a: UInt, _ b: UInt) -> UInt {
        var (a, b) = (a, b)
        while b != 0 { (a, b) = (b, a % b) }
        return a
    }
}
