/// One size class: objects of `size` bytes carved from spans of `pages` pages.
///
/// Invariants (for a class other than class 0): `objects = spanBytes / size`
/// ≥ 1, `tailWaste = spanBytes − objects·size` ≤ `spanBytes · maxWaste`
/// for the class's original (pre-growth) size, `size` is a multiple of 8 (and
/// of 128 above 1 KiB), and ``divMagic`` divides exactly for every offset in
/// `0 ... spanBytes`.
public struct SizeClass: Hashable, Sendable {
    /// Bytes per object (Go's `class_to_size`).
    public var size: Int
    /// Pages per span (Go's `class_to_allocnpages`).
    public var pages: Int
    /// Bytes per span: `pages · pageSize`.
    public var spanBytes: Int
    /// Objects per span.
    public var objects: Int
    /// Bytes left over at the end of each span.
    public var tailWaste: Int
    /// The worst-case waste of the class, in percent, as Go's table prints it:
    /// an object of `previous size + 1` bytes in every slot plus the tail.
    public var maxWastePercent: Double
    /// Object-index arithmetic (Go's `class_to_divmagic`).
    public var divMagic: DivMagic

    /// Class 0: Go's dummy entry, all zero.
    public static let zero = SizeClass(size: 0, pages: 0, spanBytes: 0, objects: 0, tailWaste: 0, maxWastePercent: 0, divMagic: .zero)

    public init(size: Int, pages: Int, spanBytes: Int, objects: Int, tailWaste: Int, maxWastePercent: Double, divMagic: DivMagic) {
        self.size = size
        self.pages = pages
        self.spanBytes = spanBytes
        self.objects = objects
        self.tailWaste = tailWaste
        self.maxWastePercent = maxWastePercent
        self.divMagic = divMagic
    }
}
