import Platform

/// Why an allocation failed. Allocation never crashes on bad input: it throws
/// one of these, naming the value.
public enum HeapError: Error, Equatable, Sendable, CustomStringConvertible {
    /// The heap could not map more memory (address space, the configured
    /// `addressSpaceLimit`, or the kernel refused). `requested` is the byte count asked for.
    case outOfMemory(requested: Int)
    /// A negative byte count, or one too large to represent in pages.
    case invalidSize(Int)
    /// An alignment that is not a power of two, or above ``Heap/maximumAlignment``.
    case invalidAlignment(Int)
    /// ``HeapConfiguration/NUMAPolicy/bind(node:)`` named a node that does not
    /// exist or has no memory.
    case invalidNode(Int)

    public var description: String {
        switch self {
        case .outOfMemory(let n): return "NUMAHeap: out of memory allocating \(n) bytes"
        case .invalidSize(let n): return "NUMAHeap: invalid size \(n): must be between 0 and \(Heap.maximumByteCount)"
        case .invalidAlignment(let a):
            return "NUMAHeap: invalid alignment \(a): must be a power of two from 1 to \(Heap.maximumAlignment)"
        case .invalidNode(let n):
            let nodes = SystemTopology.current.memoryNodes.map(String.init).joined(separator: ", ")
            return "NUMAHeap: invalid NUMA node \(n): the nodes with memory are \(nodes)"
        }
    }
}
