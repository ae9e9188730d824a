// ScavengeTarget: what the background worker needs from a heap. The heap
// implements it over its own locks; the worker never sees a lock of the heap.

/// A heap as the background ``ScavengeWorker`` sees it.
///
/// A conforming type should be a small value (a pointer to the heap's state):
/// the worker stores it inline in memory it maps, so no Swift object is
/// allocated, and calls it from its own thread without holding any lock.
public protocol ScavengeTarget: Sendable {
    /// Bytes committed for pages and not released (`mapped − released`).
    var retainedBytes: Int { get }
    /// Bytes in use.
    var inUseBytes: Int { get }
    /// Both figures, read together where the heap can (default: one after the other).
    var figures: ScavengeFigures { get }
    /// Releases at least `bytes` of free memory if there is that much (it may
    /// round up, e.g. to huge pages) and returns the bytes released. Takes and
    /// drops the heap's locks itself; must not sleep holding them.
    func scavenge(bytes: Int) -> Int
    /// The worker went idle (at the goal): the next cycle starts from the top
    /// of the heap again (Go resets `scavAddr` once per cycle).
    func scavengeCycleEnded()
    /// Bytes to release now to bring the target to `goal`, given its summed
    /// `figures`. Default: the target is one pool of pages
    /// (`goal.bytesToRelease(figures)`). A target made of pools that each keep
    /// the goal on their own — a heap's NUMA nodes, each retaining at most its
    /// own in-use bytes × (1 + p) — answers the sum of the pools' excesses (or
    /// the memory limit's excess, whichever is more), and its
    /// ``scavenge(bytes:)`` releases where the excess is.
    func bytesToRelease(toward goal: ScavengeGoal, figures: ScavengeFigures) -> Int
    /// Called about once per ``ScavengeWorker/Configuration/trimIntervalNanoseconds``:
    /// the heap takes back free memory that idle threads hold for their own
    /// reuse, so that the worker can release it. Takes and drops the heap's
    /// locks itself; must not wait for another thread. Default: nothing.
    func trimIdle()
    /// The fewest in-use bytes since the last call (the worker calls it once
    /// per look), so that the shrink credit sees troughs between looks. Default:
    /// nil, and the looks' own figures stand for it.
    func lowestInUseBytesSinceLastLook() -> Int?
    /// The in-use figure fell `bytes` below its lowest of the last 0.1–0.2 s
    /// (``ShrinkWindow``): the program gave memory back, and was not churning.
    /// Called at the look that saw it, before ``bytesToRelease(toward:figures:)``;
    /// a target whose goal follows a recent peak (``PeakWindow``) may forget
    /// the peak so the memory is released now. Default: nothing.
    func inUseShrank(bytes: Int)
}

extension ScavengeTarget {
    public var figures: ScavengeFigures { ScavengeFigures(retainedBytes: retainedBytes, inUseBytes: inUseBytes) }
    public func scavengeCycleEnded() {}
    public func bytesToRelease(toward goal: ScavengeGoal, figures: ScavengeFigures) -> Int {
        goal.bytesToRelease(figures)
    }
    public func trimIdle() {}
    public func lowestInUseBytesSinceLastLook() -> Int? { nil }
    public func inUseShrank(bytes: Int) {}
}
