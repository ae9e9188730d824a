import NUMAHeap
import NUMAHeapCollected

// A toy language runtime on CollectedHeap: the example quoted in
// Docs/CollectedHeap.md. Objects are `ToyNode`s in collected memory, with
// pointer fields; the roots are a Swift array; `collect` marks from the roots
// (and from what finalizable objects reference, as Go's markrootSpans does)
// and sweeps.

/// A node: an id, a pattern derived from it (checked after each collection),
/// and up to four pointers to other nodes.
struct ToyNode {
    static let maxChildren = 4
    var id: UInt64
    var pattern: UInt64
    var childCount: Int
    var children: (UnsafeMutableRawPointer?, UnsafeMutableRawPointer?, UnsafeMutableRawPointer?, UnsafeMutableRawPointer?)

    static func pattern(of id: UInt64) -> UInt64 { id &* 0x9E37_79B9_7F4A_7C15 ^ 0xA5A5_A5A5 }
}

extension UnsafeMutableRawPointer {
    var toyNode: UnsafeMutablePointer<ToyNode> { assumingMemoryBound(to: ToyNode.self) }
}

final class ToyRuntime {
    let heap: CollectedHeap
    var roots: [UnsafeMutableRawPointer] = []
    private var nextID: UInt64 = 1

    init(heap: CollectedHeap) { self.heap = heap }

    /// Allocates a node (zeroed by the heap) and fills in its id and pattern.
    func newNode() throws -> UnsafeMutableRawPointer {
        let p = try heap.allocate(byteCount: MemoryLayout<ToyNode>.size)
        let id = nextID
        nextID += 1
        p.toyNode.pointee.id = id
        p.toyNode.pointee.pattern = ToyNode.pattern(of: id)
        return p
    }

    func link(_ parent: UnsafeMutableRawPointer, to child: UnsafeMutableRawPointer) {
        let n = parent.toyNode
        precondition(n.pointee.childCount < ToyNode.maxChildren)
        withUnsafeMutableBytes(of: &n.pointee.children) { raw in
            raw.storeBytes(of: child, toByteOffset: n.pointee.childCount * 8, as: UnsafeMutableRawPointer.self)
        }
        n.pointee.childCount += 1
    }

    func children(of p: UnsafeMutableRawPointer) -> [UnsafeMutableRawPointer] {
        let n = p.toyNode
        return withUnsafeBytes(of: n.pointee.children) { raw in
            (0..<n.pointee.childCount).map { raw.load(fromByteOffset: $0 * 8, as: UnsafeMutableRawPointer.self) }
        }
    }

    /// Marks everything reachable from `start` (depth-first; `mark` returns
    /// true only the first time, so each node is scanned once).
    func markFrom(_ start: [UnsafeMutableRawPointer]) {
        var stack: [UnsafeMutableRawPointer] = []
        for r in start where heap.mark(r) { stack.append(r) }
        while let p = stack.popLast() {
            for c in children(of: p) where heap.mark(c) { stack.append(c) }
        }
    }

    /// One stop-the-world collection: mark from the roots, keep alive what
    /// objects with finalizers reference (not the objects themselves), sweep.
    @discardableResult
    func collect() -> SweepResult {
        heap.finishSweep()                       // the previous cycle's sweep is complete
        markFrom(roots)
        var referenced: [UnsafeMutableRawPointer] = []
        heap.forEachFinalizable { referenced.append(contentsOf: children(of: $0)) }
        markFrom(referenced)
        return heap.sweep()
    }
}
