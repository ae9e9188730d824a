import SpanCore

/// The heap's view of SpanCore's generated size-class tables, in one place.
enum SizeClassTable {
    /// Heap page size (the tables' page size).
    @inline(__always) static var pageSize: Int { SizeClasses.pageSize }
    /// Number of size classes, class 0 (large) included.
    @inline(__always) static var count: Int { SizeClasses.count }
    /// Largest size served by a size class; larger objects get their own span.
    @inline(__always) static var maxSmallSize: Int { SizeClasses.maxSmallSize }
    /// Smallest class whose objects hold `size` bytes (`size` ≤ maxSmallSize).
    @inline(__always) static func sizeClass(for size: Int) -> Int { SizeClasses.sizeClass(for: size) }
    /// Object size of `sizeClass`.
    @inline(__always) static func size(of sizeClass: Int) -> Int { SizeClasses.size(ofClass: sizeClass) }
    /// Pages per span of `sizeClass`.
    @inline(__always) static func pages(of sizeClass: Int) -> Int { SizeClasses.pages(ofClass: sizeClass) }
}
