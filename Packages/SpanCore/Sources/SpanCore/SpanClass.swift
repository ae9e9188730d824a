/// A span class: a size class and whether its objects hold pointers, packed as
/// Go's `spanClass` is (`sizeclass << 1 | noscan`).
///
/// Size class 0 means "large": the span holds one object of any page count.
/// The noscan bit only matters to a collector (CollectedHeap): a noscan span's
/// objects need not be traced. The manual heap always uses noscan classes.
public struct SpanClass: RawRepresentable, Hashable, Sendable {
    public var rawValue: UInt8

    @inlinable public init(rawValue: UInt8) { self.rawValue = rawValue }

    @inlinable public init(sizeClass: Int, noscan: Bool) {
        rawValue = UInt8(truncatingIfNeeded: sizeClass << 1) | (noscan ? 1 : 0)
    }

    /// The size class (0 = large).
    @inlinable public var sizeClass: Int { Int(rawValue >> 1) }
    /// True when the span's objects contain no pointers.
    @inlinable public var noscan: Bool { rawValue & 1 != 0 }
    /// Index into per-span-class arrays.
    @inlinable public var index: Int { Int(rawValue) }

    /// Number of span classes for `sizeClassCount` size classes (two per class).
    @inlinable public static func count(sizeClasses sizeClassCount: Int) -> Int { sizeClassCount << 1 }
}

/// A span's life-cycle state (Go's `mSpanState`). Stored in ``Span/state`` and
/// read atomically, since the free path reads it without a lock to reject a
/// pointer into a freed span.
public enum SpanState: UInt8, Sendable {
    /// Not in use: the struct is on a free list, or the span's pages were freed.
    case dead = 0
    /// Holds heap objects (small objects of one class, or one large object).
    case inUse = 1
    /// Allocated for manual management outside the object heap (Go's stacks).
    case manual = 2
}
