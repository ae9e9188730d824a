import Platform

/// The size-class tables the heap runs on (Go's `sizeclasses.go`): which class
/// a small size rounds up to, and each class's object size, span pages,
/// objects per span and division magic.
///
/// The data lives in `SizeClasses.generated.swift`, written by `size-class-gen`
/// (regenerate with `swift package --allow-writing-to-package-directory
/// generate-size-classes`); the constants (`pageSize`, `pageShift`,
/// `maxSmallSize`, `count`, …) are declared there too.
///
/// Hot-path rules: every lookup is `@inlinable`, allocates nothing, and reads
/// tables that are global `InlineArray` lets. In an optimised build Swift
/// initialises those statically (they are bytes in the binary), so no lookup
/// runs a lazy global initialiser (`swift_once`) — `malloc` calls them. In a
/// `-Onone` build the tables are still initialised lazily on first use; build
/// the allocator optimised.
///
/// Classes are numbered `0 ..< count`; class 0 is Go's dummy (large objects)
/// with size 0. For `1 ≤ c < count`: sizes ascend (strictly for Go's 8 KiB
/// defaults; other page sizes can give two neighbours the same size), every size is a
/// multiple of 8 (and of 128 above 1 KiB), and `objects(ofClass: c) ≥ 1`.
public enum SizeClasses {
    /// The smallest class whose objects hold `size` bytes.
    ///
    /// Requires `0 ≤ size ≤ maxSmallSize` (checked: a size outside stops the
    /// process with the value). Size 0 maps to class 0, as in Go; callers
    /// allocate at least one byte. Sizes up to `smallSizeMax` (1 KiB) are
    /// looked up at 8-byte steps (Go's `size_to_class8`), larger ones at
    /// 128-byte steps (`size_to_class128`).
    @inlinable @inline(__always)
    public static func sizeClass(for size: Int) -> Int {
        if _slowPath(UInt(bitPattern: size) > UInt(maxSmallSize)) { _sizeOutOfRange(size) }
        if size <= smallSizeMax {
            return Int(_sizeToClass8[unchecked: (size &+ (smallSizeDivisor &- 1)) / smallSizeDivisor])
        }
        return Int(_sizeToClass128[unchecked: (size &- smallSizeMax &+ (largeSizeDivisor &- 1)) / largeSizeDivisor])
    }

    /// Bytes per object of `sizeClass` (0 for class 0). Requires `0 ≤ sizeClass < count`.
    @inlinable @inline(__always)
    public static func size(ofClass sizeClass: Int) -> Int {
        _checkClass(sizeClass)
        return Int(_classToSize[unchecked: sizeClass])
    }

    /// Pages per span of `sizeClass` (0 for class 0). Requires `0 ≤ sizeClass < count`.
    @inlinable @inline(__always)
    public static func pages(ofClass sizeClass: Int) -> Int {
        _checkClass(sizeClass)
        return Int(_classToAllocNPages[unchecked: sizeClass])
    }

    /// Objects per span of `sizeClass`: `pages · pageSize / size` (0 for class 0).
    @inlinable @inline(__always)
    public static func objects(ofClass sizeClass: Int) -> Int {
        _checkClass(sizeClass)
        return Int(_classToObjects[unchecked: sizeClass])
    }

    /// The division magic of `sizeClass` (all zero for class 0).
    @inlinable @inline(__always)
    public static func divMagic(ofClass sizeClass: Int) -> SpanDivMagic {
        _checkClass(sizeClass)
        return SpanDivMagic(
            shift: _classToDivShift[unchecked: sizeClass],
            shift2: _classToDivShift2[unchecked: sizeClass],
            mul: _classToDivMul[unchecked: sizeClass],
            baseMask: _classToBaseMask[unchecked: sizeClass],
            mul32: _classToDivMul32[unchecked: sizeClass]
        )
    }

    @inlinable @inline(__always)
    static func _checkClass(_ sizeClass: Int) {
        if _slowPath(UInt(bitPattern: sizeClass) >= UInt(count)) { _classOutOfRange(sizeClass) }
    }

    @usableFromInline @inline(never)
    static func _sizeOutOfRange(_ size: Int) -> Never {
        FatalMessage("SpanCore: size ").decimal(size)
            .text(" has no size class (small sizes are 0 ... ").decimal(maxSmallSize).text(")").crash()
    }

    @usableFromInline @inline(never)
    static func _classOutOfRange(_ sizeClass: Int) -> Never {
        FatalMessage("SpanCore: size class ").decimal(sizeClass)
            .text(" out of range 0 ..< ").decimal(count).crash()
    }
}
