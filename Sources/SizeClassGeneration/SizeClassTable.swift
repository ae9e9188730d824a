/// A complete size-class table: the classes (class 0 first, Go's dummy entry)
/// and the two size → class lookup tables.
///
/// Invariants: class sizes ascend from class 1 (strictly for Go's defaults;
/// with other page sizes growth can lift a class to its neighbour's size, as
/// in Go's algorithm, and lookups then give the first of the two); the last class is at
/// least `maxSmallSize`; `sizeToClass8[i]` is the smallest class whose size
/// is ≥ `8·i` (for `8·i` ≤ 1024) and `sizeToClass128[i]` the smallest class
/// whose size is ≥ `1024 + 128·i` (up to `maxSmallSize`).
public struct SizeClassTable: Hashable, Sendable {
    public let parameters: SizeClassParameters
    /// Index = class number; `classes[0]` is ``SizeClass/zero``.
    public let classes: [SizeClass]
    /// Go's `size_to_class8`: `smallSizeMax/8 + 1` entries.
    public let sizeToClass8: [Int]
    /// Go's `size_to_class128`: `(maxSmallSize − smallSizeMax)/128 + 1` entries.
    public let sizeToClass128: [Int]

    /// Runs the algorithm; throws when the parameters are invalid or a class
    /// does not fit the table's field widths.
    public init(parameters: SizeClassParameters = .go114) throws(SizeClassError) {
        try parameters.validate()
        let candidates = SizeClassAlgorithm.candidates(parameters, through: parameters.maxSmallSize)
        var classes = [SizeClass.zero]
        do {
            for candidate in candidates {
                classes.append(try SizeClassAlgorithm.finish(
                    candidate, previousSize: classes.last!.size, pageSize: parameters.pageSize))
            }
        } catch {
            throw .maxSmallSizeAboveLimit(
                parameters.maxSmallSize,
                limit: SizeClassLimits.largestMaxSmallSize(for: parameters),
                reason: "page size \(parameters.pageSize): class \(classes.count): " + error.description)
        }
        guard classes.count <= Int(UInt8.max) + 1 else {
            throw .maxSmallSizeAboveLimit(
                parameters.maxSmallSize,
                limit: SizeClassLimits.largestMaxSmallSize(for: parameters),
                reason: "page size \(parameters.pageSize): \(classes.count) classes do not fit size_to_class (uint8)")
        }
        self.parameters = parameters
        self.classes = classes

        func smallestClass(atLeast size: Int) -> Int {
            classes.firstIndex { $0.size >= size }!
        }
        let divisor8 = SizeClassParameters.smallSizeDivisor
        let divisor128 = SizeClassParameters.largeSizeDivisor
        let smallMax = SizeClassParameters.smallSizeMax
        sizeToClass8 = (0...smallMax / divisor8).map { smallestClass(atLeast: $0 * divisor8) }
        sizeToClass128 = (0...(parameters.maxSmallSize - smallMax) / divisor128).map {
            smallestClass(atLeast: smallMax + $0 * divisor128)
        }
    }

    /// Number of classes, class 0 included (Go's `_NumSizeClasses`).
    public var count: Int { classes.count }
}
