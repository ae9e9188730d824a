import SpanCore

// The span-level interface a heap mode built over this page heap uses
// (NUMAHeapCollected's `CollectedHeap`): whole spans from a node's page heap
// and back, with no thread cache involved. Package access: the mode is a
// module of this package, not a public seam.

extension HeapCore {
    /// A span of `pages` pages for `spanClass` from `node`'s page heap (its
    /// lock taken and dropped inside), initialised for the class; nil when
    /// the node cannot grow.
    package func allocateSpan(pages: Int, spanClass: SpanClass, node: Int) -> SpanRef? {
        NodeSpanSource(state: state, node: node).allocateSpan(pages: pages, spanClass: spanClass)
    }

    /// Returns `span`, allocated by ``allocateSpan(pages:spanClass:node:)``
    /// from the same `node`, to that node's page heap.
    package func freeSpan(_ span: SpanRef, node: Int) {
        NodeSpanSource(state: state, node: node).freeSpan(span)
    }
}
