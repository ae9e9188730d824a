/// Where central lists get spans from, and return them to: the page heap of one
/// NUMA node (Go's `mheap.alloc` / `mheap.freeSpan` as seen from `mcentral`).
///
/// Central is generic over this protocol so that its calls specialise; the heap
/// passes a small value that points at its own state (reference semantics without
/// ARC). Implementations take their own lock (Go's `mheap.lock`); callers may
/// hold a central list's lock, never the reverse (lock order: central → heap).
public protocol SpanSource {
    /// A new span of `pages` pages for `spanClass`, fully initialised (layout,
    /// bitmaps, state `.inUse`, registered in the arena map), or nil when the
    /// heap cannot grow.
    func allocateSpan(pages: Int, spanClass: SpanClass) -> SpanRef?

    /// Returns a span whose objects are all free to the page heap.
    func freeSpan(_ span: SpanRef)
}
