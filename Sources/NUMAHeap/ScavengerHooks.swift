// Where the heap calls the scavenger. The scavenger issue fills these in; until
// then they do nothing (retained memory is released only by releaseFreeMemory()).

extension NodeSpanSource {
    /// Called by ``grow(pages:)`` after the node's page allocator grew by
    /// `bytes`, with the node's lock held (Go's `mheap.grow` inline scavenge:
    /// release what the growth pushed over the goal).
    func heapDidGrow(bytes: Int) {}
}

extension HeapState {
    /// Called once a heap's state is created and registered (start nothing
    /// eagerly: Go starts its background scavenger lazily).
    static func scavengerHeapCreated(_ state: UnsafeMutablePointer<HeapState>) {}

    /// Called before a heap's state is torn down; must stop any worker that
    /// uses it and wait for it.
    static func scavengerHeapDestroying(_ state: UnsafeMutablePointer<HeapState>) {}
}
