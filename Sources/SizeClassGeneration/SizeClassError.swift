/// Why a set of parameters cannot produce a table. Each description is one
/// line that names the offending value and the limit it broke; the CLI prints
/// it and exits with 64 (`EX_USAGE`).
public enum SizeClassError: Error, Equatable, Sendable, CustomStringConvertible {
    /// The page size is not a power of two in 4 KiB … 64 KiB.
    case pageSize(Int)
    /// The tail-waste bound is not greater than zero.
    case maxWaste(Fraction)
    /// The max small size is below `smallSizeMax` (1024): Go's two lookup
    /// tables assume the 8-byte table is full.
    case maxSmallSizeTooSmall(Int)
    /// The max small size is not a class boundary, so sizes just below it
    /// would have no class.
    case maxSmallSizeOffGrid(Int, below: Int, above: Int)
    /// Some class of the table does not fit the table's field widths.
    /// `limit` is the largest max small size (on the grid) for which every
    /// table up to it fits; `reason` says which field overflowed.
    case maxSmallSizeAboveLimit(Int, limit: Int, reason: String)

    public var description: String {
        switch self {
        case .pageSize(let size):
            return "page size \(size) is not a power of two between 4096 and 65536 (4 KiB … 64 KiB)"
        case .maxWaste(let waste):
            return "max waste \(waste) must be greater than 0 (Go's default is 1/8)"
        case .maxSmallSizeTooSmall(let size):
            return "max small size \(size) is below 1024, where the 8-byte size_to_class8 table ends (smallSizeMax); it must be at least 1024"
        case .maxSmallSizeOffGrid(let size, let below, let above):
            return "max small size \(size) is not a size-class boundary (sizes step by 8, 16, size/8, then 256 from 2048); use \(below) or \(above)"
        case .maxSmallSizeAboveLimit(let size, let limit, let reason):
            return "max small size \(size) is above \(limit), the largest that the 16-bit divmagic fields (divMul, baseMask; with divMul32 exact in 32 bits) and table widths allow for this page size and waste (\(reason))"
        }
    }
}
