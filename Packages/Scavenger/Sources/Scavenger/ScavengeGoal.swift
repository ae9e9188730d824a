// ScavengeGoal: how much free memory the heap may keep, and how much to release
// now — Go 1.14's gcPaceScavenger and the inline scavenge in mheap.grow, adapted
// to a heap without a garbage collector, plus a memory limit (GOMEMLIMIT).
//
// Go derives its goal from the last GC's heap goal; here there is no GC cycle,
// so the goal follows the heap's in-use bytes directly:
//
//     retainedGoal = roundUp(inUse + inUse × retainExtraPercent / 100, physPage)
//
// where retained = mapped − released (Go's heapRetained); a heap may pass a
// recent peak as inUse (PeakWindow), as NUMAHeap does. A memory limit adds
// a second, harder goal: the background worker aims below 95% of it (Go 1.19's
// memoryLimitGoal) and stops pacing itself above it.

/// A heap's page figures at one moment, as a ``ScavengePolicy`` reads them.
public struct ScavengeFigures: Sendable, Equatable {
    /// Bytes committed for heap pages and not released (Go's `heapRetained`:
    /// `HeapSys − HeapReleased`).
    public var retainedBytes: Int
    /// Bytes in spans in use (Go's `HeapInuse`).
    public var inUseBytes: Int

    @inlinable public init(retainedBytes: Int, inUseBytes: Int) {
        self.retainedBytes = retainedBytes
        self.inUseBytes = inUseBytes
    }
}

/// The `ScavengePolicy` seam: from the heap's figures to the bytes to
/// release now. ``ScavengeGoal`` is the default; a heap or a test may supply
/// its own.
public protocol ScavengePolicy: Sendable {
    /// Bytes the background worker should release now; 0 when at the goal.
    func bytesToRelease(_ figures: ScavengeFigures) -> Int
    /// Bytes to release right away because the heap grows by `growth` bytes
    /// that are about to be used (the inline scavenge of Go's `mheap.grow`).
    func bytesToRelease(_ figures: ScavengeFigures, growingBy growth: Int) -> Int
    /// Whether retained memory is past a hard limit, so that the worker releases
    /// without pacing itself.
    func isOverLimit(_ figures: ScavengeFigures) -> Bool
}

/// The default ``ScavengePolicy``: retained ≤ in-use × (1 + retainExtraPercent
/// / 100), rounded to the physical page size, and retained ≤ `memoryLimit`.
public struct ScavengeGoal: ScavengePolicy, Equatable {
    /// Extra retained memory allowed over the in-use bytes, in percent (Go's
    /// `retainExtraPercent`, 10). Clamped to 0 ... 1,000,000. Nil: no goal
    /// from the in-use bytes, only the memory limit.
    public var retainExtraPercent: Int?
    /// Retained bytes above which the heap releases aggressively (GOMEMLIMIT);
    /// nil for none.
    public var memoryLimit: Int?
    /// The unit of release and of the goal's rounding (the kernel's page size).
    public var physicalPageSize: Int

    public init(retainExtraPercent: Int? = 10, memoryLimit: Int? = nil,
                physicalPageSize: Int = 4096) {
        self.retainExtraPercent = retainExtraPercent.map { min(max($0, 0), 1_000_000) }
        self.memoryLimit = memoryLimit.map { max($0, 0) }
        self.physicalPageSize = max(physicalPageSize, 1)
    }

    /// The retained bytes allowed for `inUseBytes` in use, rounded up to the
    /// physical page size (saturating, never negative); `Int.max` without a
    /// percent goal.
    public func retainedGoal(inUseBytes: Int) -> Int {
        guard let retainExtraPercent else { return Int.max }
        let inUse = max(inUseBytes, 0)
        let (extra, o1) = (inUse / 100).multipliedReportingOverflow(by: retainExtraPercent)
        let (rest, o2) = (inUse % 100).multipliedReportingOverflow(by: retainExtraPercent)
        let (sum, o3) = inUse.addingReportingOverflow(extra &+ rest / 100)
        if o1 || o2 || o3 { return Int.max }
        return roundUp(sum)
    }

    /// What the background worker aims at under a memory limit: 95% of it
    /// (Go 1.19's `memoryLimitGoal`), so it works before the hard limit is hit.
    public var limitGoal: Int? { memoryLimit.map { $0 - $0 / 20 } }

    public func bytesToRelease(_ f: ScavengeFigures) -> Int {
        max(bytesOverRetainedGoal(f), bytesOverLimitGoal(f))
    }

    /// Bytes of `f` above the retained goal of its own in-use bytes, rounded up
    /// to the physical page size; 0 within it. The goal holds for each pool of
    /// pages on its own (a heap's NUMA node), so a heap sums this over its nodes.
    public func bytesOverRetainedGoal(_ f: ScavengeFigures) -> Int {
        let goal = retainedGoal(inUseBytes: f.inUseBytes)
        // As Go: less than one physical page over the goal is not worth a syscall.
        guard f.retainedBytes > goal && f.retainedBytes - goal >= physicalPageSize else { return 0 }
        return roundUp(f.retainedBytes - goal)
    }

    /// Bytes of `f` above the memory limit's goal (``limitGoal``), rounded up;
    /// 0 within it or without a limit. The limit is the whole heap's: pass its
    /// summed figures.
    public func bytesOverLimitGoal(_ f: ScavengeFigures) -> Int {
        guard let limit = limitGoal, f.retainedBytes > limit else { return 0 }
        return roundUp(f.retainedBytes - limit)
    }

    public func bytesToRelease(_ f: ScavengeFigures, growingBy growth: Int) -> Int {
        let after = f.retainedBytes &+ max(growth, 0)
        let goal = retainedGoal(inUseBytes: f.inUseBytes)
        var want = 0
        // Go's mheap.grow: release what the growth pushes over the goal, at
        // most the growth itself.
        if after > goal { want = min(growth, after - goal) }
        // Over the memory limit: release everything above it, not just the growth.
        if let limit = memoryLimit, after > limit { want = max(want, after - limit) }
        return want <= 0 ? 0 : roundUp(want)
    }

    public func isOverLimit(_ f: ScavengeFigures) -> Bool {
        guard let limit = memoryLimit else { return false }
        return f.retainedBytes > limit
    }

    @inlinable func roundUp(_ n: Int) -> Int {
        let p = physicalPageSize
        let (s, o) = n.addingReportingOverflow(p - 1)
        return o ? Int.max / p * p : s / p * p
    }
}
