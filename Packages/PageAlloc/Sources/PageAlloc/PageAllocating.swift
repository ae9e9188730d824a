// PageAllocating: the seam a heap is generic over (the design's "PageAllocator"
// seam; that name is the concrete type here).

/// What a page heap needs from a page allocator. ``PageAllocator`` is the
/// default; a heap generic over this protocol specialises its calls.
public protocol PageAllocating: ~Copyable {
    /// Bytes per page.
    var pageSize: Int { get }
    /// Free pages, and how many of them are scavenged.
    var freePages: Int { get }
    var scavengedPages: Int { get }
    /// Adds `[base, base + bytes)` to the managed space, free and scavenged.
    mutating func grow(base: UInt, bytes: Int)
    /// Allocates `pages` contiguous pages: base and scavenged bytes, or nil.
    mutating func allocate(pages: Int) -> (base: UInt, scavengedBytes: Int)?
    /// Frees `pages` allocated pages from `base`.
    mutating func free(base: UInt, pages: Int)
    /// Marks up to `bytes` of free pages scavenged, reporting each range.
    mutating func scavenge<R: PageReleaser>(bytes: Int, releaser: inout R) -> Int
}

extension PageAllocator: PageAllocating {}
