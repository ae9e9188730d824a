/// The inputs of the size-class algorithm (Go's constants at the top of
/// `mksizeclasses.go`), with Go 1.14's values as the defaults.
///
/// Invariants after ``validate()``: `pageSize` is a power of two in
/// 4 KiB … 64 KiB; `maxWaste > 0`; `maxSmallSize` is at least
/// ``smallSizeMax`` and lies on the size grid (see ``SizeGrid``), so the
/// largest class ends exactly at `maxSmallSize` before it is grown. Whether the
/// classes then fit the table field widths (16-bit divmagic, `uint16` sizes,
/// `uint8` page counts) is checked by ``SizeClassTable/init(parameters:)``.
public struct SizeClassParameters: Hashable, Sendable {
    /// Bytes per page (Go's `pageSize = 1 << pageShift`).
    public var pageSize: Int
    /// The largest size served by a size class (Go's `maxSmallSize`).
    public var maxSmallSize: Int
    /// The most a span may waste at its tail, as a fraction of the span.
    public var maxWaste: Fraction

    /// Step of the small lookup table (Go's `smallSizeDiv`).
    public static let smallSizeDivisor = 8
    /// Where the small lookup table ends (Go's `smallSizeMax`).
    public static let smallSizeMax = 1024
    /// Step of the large lookup table, and the alignment classes are grown to
    /// (Go's `largeSizeDiv`).
    public static let largeSizeDivisor = 128

    /// Go 1.14's page size: 8 KiB.
    public static let defaultPageSize = 8192
    /// Go 1.14's maximum small size: 32 KiB.
    public static let defaultMaxSmallSize = 32768
    /// Go's tail-waste bound: 1/8 of the span.
    public static let defaultMaxWaste = Fraction(1, 8)

    /// Page sizes accepted by the generator.
    public static let pageSizeRange = 4096...65536

    public init(
        pageSize: Int = SizeClassParameters.defaultPageSize,
        maxSmallSize: Int = SizeClassParameters.defaultMaxSmallSize,
        maxWaste: Fraction = SizeClassParameters.defaultMaxWaste
    ) {
        self.pageSize = pageSize
        self.maxSmallSize = maxSmallSize
        self.maxWaste = maxWaste
    }

    /// Go 1.14's parameters.
    public static let go114 = SizeClassParameters()

    /// log2(pageSize); only meaningful once `pageSize` is validated.
    public var pageShift: Int { pageSize.trailingZeroBitCount }

    /// Checks everything that does not need the classes themselves.
    public func validate() throws(SizeClassError) {
        let range = SizeClassParameters.pageSizeRange
        guard pageSize > 0, pageSize & (pageSize - 1) == 0, range.contains(pageSize) else {
            throw .pageSize(pageSize)
        }
        guard maxWaste.numerator > 0 else { throw .maxWaste(maxWaste) }
        guard maxSmallSize >= SizeClassParameters.smallSizeMax else {
            throw .maxSmallSizeTooSmall(maxSmallSize)
        }
        guard maxSmallSize <= Int(UInt16.max) else {
            throw .maxSmallSizeAboveLimit(maxSmallSize, limit: SizeClassLimits.largestMaxSmallSize(for: self), reason: "page size \(pageSize): class sizes are uint16, at most 65535")
        }
        guard SizeGrid.contains(maxSmallSize) else {
            throw .maxSmallSizeOffGrid(maxSmallSize, below: SizeGrid.floor(maxSmallSize), above: SizeGrid.ceiling(maxSmallSize))
        }
    }

    /// The arguments that reproduce these parameters on the command line.
    public var commandLineArguments: String {
        "--page-size \(pageSize) --max-small-size \(maxSmallSize) --max-waste \(maxWaste)"
    }
}
