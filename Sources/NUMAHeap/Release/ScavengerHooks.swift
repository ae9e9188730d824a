// Where the heap calls the scavenger: creation and destruction of a heap's
// scavenger, and Go's mheap.grow inline scavenge (with the arenas' huge-page
// advice and the lazy start of the background worker).
import ArenaMap
import Platform
import Scavenger

extension NodeSpanSource {
    /// Called by ``grow(pages:)`` after the node's page allocator grew by
    /// `growth` (committed, never-used memory, free and scavenged), with the
    /// node's lock held:
    ///
    /// 1. transparent-huge-page advice on the new memory (`.always`:
    ///    `MADV_HUGEPAGE`, `.never`: `MADV_NOHUGEPAGE`), before first touch;
    /// 2. Go's inline scavenge: release what this growth pushes over the goal
    ///    (at most the growth), or everything above the memory limit;
    /// 3. wake the background worker when the node is over its goal (it is
    ///    started by ``heapGrewUnlocked()``, outside the lock).
    func heapDidGrow(_ growth: ArenaGrowth) {
        guard let sc = ScavengerState.of(state) else { return }
        if let advice = sc.pointee.arenaAdvice {
            advise(sc, growth.base, growth.bytes, advice)
            advise(sc, growth.leftoverBase, growth.leftoverBytes, advice)
        }
        heapDidGrow(bytes: growth.bytes + growth.leftoverBytes)
    }

    /// The goal and worker part of ``heapDidGrow(_:)`` (no huge-page advice:
    /// that needs the range). Node lock held.
    func heapDidGrow(bytes: Int) {
        guard let sc = ScavengerState.of(state) else { return }
        let figures = ScavengerState.figuresLocked(state, node: node)
        let want = sc.pointee.goal.bytesToRelease(figures, growingBy: bytes)
        if want > 0 {
            let released = ScavengerState.releaseLocked(sc, state, node: node, bytes: want)
            let counters = sc.pointee.nodes + node  // Local pointer: see Docs/Heap.md on -sanitize=thread.
            counters.pointee.inlineReleasedBytes += released
        }
        if let worker = sc.pointee.worker,
           sc.pointee.goal.bytesToRelease(ScavengerState.figuresLocked(state, node: node)) > 0 {
            worker.wake()
        }
    }

    /// Called by ``allocate(pages:alignmentPages:spanClass:elemSize:)`` after a
    /// growth, once the node lock is released: starts the background worker on
    /// the heap's first growth (lazily, like Go's bgscavenge). Never under a heap
    /// lock, because pthread_create may call malloc — this heap, in the malloc library.
    func heapGrewUnlocked() {
        guard let sc = ScavengerState.of(state), let worker = sc.pointee.worker else { return }
        worker.startLazily()
    }

    private func advise(_ sc: UnsafeMutablePointer<ScavengerState>, _ base: UInt, _ bytes: Int, _ advice: MemoryAdvice) {
        guard bytes > 0, let p = UnsafeMutableRawPointer(bitPattern: base) else { return }
        if case .failure = SystemMemory.advise(p, bytes: bytes, advice) {
            let counters = sc.pointee.nodes + node  // Local pointer: see Docs/Heap.md on -sanitize=thread.
            counters.pointee.adviceFailures += 1
        }
    }
}

extension HeapState {
    /// Called once a heap's state is created and registered: maps the
    /// scavenger's state. Starts nothing (Go starts its background scavenger
    /// lazily; here the first growth does).
    static func scavengerHeapCreated(_ state: UnsafeMutablePointer<HeapState>) {
        state.pointee.scavengerSlot.pointee = ScavengerState.create(for: state).map { UnsafeMutableRawPointer($0) }
    }

    /// Called before a heap's state is torn down: stops the worker and waits
    /// for its thread, then unmaps the scavenger's state.
    static func scavengerHeapDestroying(_ state: UnsafeMutablePointer<HeapState>) {
        guard let sc = ScavengerState.of(state) else { return }
        state.pointee.scavengerSlot.pointee = nil
        ScavengerState.destroy(sc)
    }
}
