import Platform

/// The heap's operations over its mapped state: a one-word value with no
/// reference counting, so code that must not allocate Swift objects or run lazy
/// initialisers (the malloc library) can hold one in a global. ``Heap`` wraps it.
///
/// A `HeapCore` names its heap's state: copies name the same heap, and
/// ``destroy()`` ends it for all of them.
@_spi(NUMAHeapInternals)
public struct HeapCore: @unchecked Sendable {
    package let state: UnsafeMutablePointer<HeapState>

    /// The operations of an existing heap state (thread exit works from the state).
    init(state: UnsafeMutablePointer<HeapState>) { self.state = state }

    /// Maps and registers a new heap on the machine's topology
    /// (``SystemTopology/current``); nil when its metadata cannot be mapped or
    /// the configuration names a node without memory. Allocates nothing on the
    /// Swift heap (the malloc library calls it inside `malloc`).
    public init?(configuration: HeapConfiguration) {
        guard let core = try? HeapCore(configuration: configuration, topology: SystemTopology.current) else { return nil }
        self = core
    }

    /// Maps and registers a new heap that places memory on `topology`'s nodes.
    /// Throws ``HeapError/invalidNode(_:)`` when `.bind(node:)` names a node
    /// without memory, ``HeapError/outOfMemory(requested:)`` when the heap's
    /// metadata cannot be mapped.
    public init<T: NUMATopology>(configuration: HeapConfiguration, topology: T) throws(HeapError) {
        let placement: NodePlacement
        switch NodePlacement.plan(configuration, topology: topology) {
        case .success(let p): placement = p
        case .failure(let e): throw e
        }
        guard let s = HeapState.create(configuration: configuration, placement: placement) else {
            placement.destroy()
            throw .outOfMemory(requested: 0)
        }
        state = s
        HeapRegistry.register(s)
        HeapState.scavengerHeapCreated(s)
    }

    /// Unregisters the heap and returns all its memory to the system.
    public func destroy() {
        HeapState.scavengerHeapDestroying(state)
        HeapRegistry.unregister(state)
        HeapState.destroy(state)
    }
}
