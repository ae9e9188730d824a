// ScavengerState: a heap's scavenger — its goal, release method, huge-page
// policy, per-node walk cursors and counters, and the background worker — in
// one mapping of its own, hung on HeapState.scavengerSlot. Created with the
// heap (the worker's thread is started only by the first growth), destroyed
// before the heap (the worker is stopped and joined first).
//
// Who writes what:
// - every `let` below: scavengerHeapCreated, before the heap is shared;
// - a node's NodeScavenge: whoever holds that node's lock (the worker, an
//   allocating thread in heapDidGrow, releaseFreeMemory);
// - the worker's own fields: the worker, under its mutex (ScavengeWorker).
import ArenaMap
import PageAlloc
import Platform
import Scavenger

/// One node's scavenging state. Under the node's lock.
struct NodeScavenge {
    /// Where the walk continues (Go's `scavAddr`), and its huge-page memory.
    var walker = PageScavenger()
    /// Bytes released to the system over the heap's life: by the worker, by
    /// growth and the memory limit (inline), and by releaseFreeMemory().
    var releasedBytes = 0
    /// Of those, released inline when the heap grew.
    var inlineReleasedBytes = 0
    /// madvise calls that failed (the pages stayed backed).
    var releaseFailures = 0
    /// THP advice on arenas that failed.
    var adviceFailures = 0
    /// The node's most bytes in use over the last one to two
    /// `retainedPeakWindow`s: what its retained goal follows
    /// (``HeapScavengeTarget``); nil with a zero window.
    var peak: PeakWindow? = nil
}

/// A heap's scavenger (see the file comment).
struct ScavengerState: ~Copyable {
    /// The goal (retainExtraPercent and memory limit): the worker keeps it,
    /// growth releases what it pushes over it. With scavenging `.disabled`
    /// only the memory limit.
    let goal: ScavengeGoal
    /// `.dontNeed` or `.free`.
    let advice: MemoryAdvice
    /// Whole huge pages first where the kernel backs the heap with them.
    let hugePages: HugePagePolicy
    /// `MADV_HUGEPAGE`/`MADV_NOHUGEPAGE` for new arena memory, or nil.
    let arenaAdvice: MemoryAdvice?
    /// The background worker; nil when scavenging is `.disabled`.
    let worker: ScavengeWorker?
    let nodes: UnsafeMutablePointer<NodeScavenge>
    let nodeCount: Int
    let mappingBytes: Int
    /// Ranges picked under a node's lock and advised after it is released
    /// (``releaseAdvisingUnlocked(_:_:node:bytes:lock:)``),
    /// ``DeferredRanges/capacity`` of them. Under ``releaseLock``.
    let deferred: UnsafeMutablePointer<UInt>
    /// The release lock: held around every release that advises with the
    /// node lock dropped — the background worker's
    /// (``HeapScavengeTarget/scavenge(bytes:)``) and `releaseFreeMemory`'s —
    /// so one of them at a time owns ``deferred``. Any thread may hold it,
    /// for as long as its `madvise` calls take. Order: taken before a node
    /// lock, never while holding one, a central lock, the arena lock or the
    /// cache lock; after the registry lock (the fork handlers take it right
    /// after). Never held while the worker sleeps or takes its own mutex.
    let releaseLock: RawLock

    static func of(_ heap: UnsafeMutablePointer<HeapState>) -> UnsafeMutablePointer<ScavengerState>? {
        heap.pointee.scavengerSlot.pointee?.assumingMemoryBound(to: ScavengerState.self)
    }

    /// Maps a heap's scavenger; nil when memory cannot be mapped (the heap
    /// then only releases through releaseFreeMemory's fallback).
    static func create(for heap: UnsafeMutablePointer<HeapState>) -> UnsafeMutablePointer<ScavengerState>? {
        let config = heap.pointee.configuration
        let nodeCount = heap.pointee.nodeCount
        let nodesOffset = (MemoryLayout<ScavengerState>.stride + 63) & ~63
        let physical = SystemMemory.physicalPageSize
        let deferredOffset = (nodesOffset + MemoryLayout<NodeScavenge>.stride * nodeCount + 63) & ~63
        let lockOffset = (deferredOffset + DeferredRanges.byteCount + 63) & ~63
        let bytes = (lockOffset + RawLock.byteCount + physical - 1) & ~(physical - 1)
        guard case .success(let base) = SystemMemory.mapAnonymous(bytes: bytes) else { return nil }
        let nodes = (base + nodesOffset).bindMemory(to: NodeScavenge.self, capacity: nodeCount)
        let deferred = (base + deferredOffset).bindMemory(to: UInt.self, capacity: 2 * DeferredRanges.capacity)
        let (seconds, attoseconds) = config.retainedPeakWindow.components
        let window = seconds < 0 || (seconds == 0 && attoseconds <= 0) ? 0
            : Int(min(seconds, 1 << 32)) * 1_000_000_000 + Int(attoseconds / 1_000_000_000)
        var node = NodeScavenge()
        if window > 0 { node.peak = PeakWindow(bucketNanoseconds: window) }
        nodes.initialize(repeating: node, count: nodeCount)

        var percent: Int? = nil
        if case .background(let p) = config.scavenging { percent = p }
        let goal = ScavengeGoal(retainExtraPercent: percent, memoryLimit: config.memoryLimit,
                                physicalPageSize: physical)
        let thp: TransparentHugePageSetting
        let arenaAdvice: MemoryAdvice?
        switch config.transparentHugePages {
        case .default: thp = .default; arenaAdvice = nil
        case .always: thp = .always; arenaAdvice = .hugePage
        case .never: thp = .never; arenaAdvice = .noHugePage
        }
        let hugePages = HugePagePolicy.forSystem(heapAdvice: thp)
        var worker: ScavengeWorker? = nil
        if percent != nil {
            worker = ScavengeWorker.create(
                target: HeapScavengeTarget(heap: heap),
                configuration: .init(goal: goal, quantumBytes: 4 * max(hugePages.hugePageSize, 2 << 20)))
        }
        let state = base.bindMemory(to: ScavengerState.self, capacity: 1)
        state.initialize(to: ScavengerState(
            goal: goal, advice: config.releaseMethod == .free ? .free : .dontNeed,
            hugePages: hugePages, arenaAdvice: arenaAdvice, worker: worker,
            nodes: nodes, nodeCount: nodeCount, mappingBytes: bytes, deferred: deferred,
            releaseLock: RawLock(initializingAt: base + lockOffset)))
        return state
    }

    /// Stops the worker (joining its thread) and unmaps the state.
    static func destroy(_ state: UnsafeMutablePointer<ScavengerState>) {
        state.pointee.worker?.destroy()
        let bytes = state.pointee.mappingBytes
        state.pointee.nodes.deinitialize(count: state.pointee.nodeCount)
        state.deinitialize(count: 1)
        _ = SystemMemory.unmap(UnsafeMutableRawPointer(state), bytes: bytes)
    }

    /// Releases at least `bytes` of node `n`'s free pages (all of them for
    /// `1 << 48`), from the top down, whole huge pages first. Node lock held.
    /// Returns the bytes released.
    static func releaseLocked(_ state: UnsafeMutablePointer<ScavengerState>,
                              _ heap: UnsafeMutablePointer<HeapState>, node n: Int, bytes: Int) -> Int {
        // The page allocator through a local pointer: an inout rooted at
        // `h.pointee` would claim the whole NodeHeap (see Docs/Heap.md).
        let pages = heap.pointee.nodes[n]._pages
        let mine = state.pointee.nodes + n
        var releaser = MadviseReleaser(advice: state.pointee.advice)
        let released = mine.pointee.walker.scavenge(
            &pages.pointee, bytes: bytes, hugePages: state.pointee.hugePages, releaser: &releaser)
        mine.pointee.releasedBytes += releaser.releasedBytes
        mine.pointee.releaseFailures += releaser.failures
        return released
    }

    /// Releases at least `bytes` of node `n`'s free pages like
    /// ``releaseLocked(_:_:node:bytes:)``, but advises them with the node's
    /// `lock` released (Go 1.17's scavengeOne): under the lock the walk picks
    /// and marks the ranges, and they are allocated in the page allocator so
    /// that no thread takes them while they are advised; then the lock is
    /// dropped for the `madvise` calls, and retaken to free them, scavenged.
    /// At most ``DeferredRanges/capacity`` pages a batch, so a batch's ranges
    /// fit the list. The caller holds ``releaseLock`` throughout (the list is
    /// its), and `lock` on entry and on return.
    static func releaseAdvisingUnlocked(_ state: UnsafeMutablePointer<ScavengerState>,
                                        _ heap: UnsafeMutablePointer<HeapState>, node n: Int, bytes: Int,
                                        lock: RawLock) -> Int {
        let pages = heap.pointee.nodes[n]._pages
        let mine = state.pointee.nodes + n
        let pageSize = heap.pointee.pageSize
        var released = 0
        while released < bytes {
            var ranges = DeferredRanges(storage: state.pointee.deferred)
            let batch = min(bytes - released, DeferredRanges.capacity * pageSize)
            let marked = mine.pointee.walker.scavenge(
                &pages.pointee, bytes: batch, hugePages: state.pointee.hugePages, releaser: &ranges)
            if marked == 0 { break }
            released += marked
            for i in 0..<ranges.count {
                let r = ranges[i]
                guard pages.pointee.allocate(base: r.base, pages: r.bytes / pageSize) != nil else {
                    FatalMessage("NUMAHeap: scavenger: free range at ").hex(r.base).text(" of ").decimal(r.bytes)
                        .text(" bytes could not be taken").crash()
                }
            }
            lock.unlock()
            var releaser = MadviseReleaser(advice: state.pointee.advice)
            for i in 0..<ranges.count { releaser.release(base: ranges[i].base, bytes: ranges[i].bytes) }
            lock.lock()
            for i in 0..<ranges.count {
                let r = ranges[i]
                pages.pointee.free(base: r.base, pages: r.bytes / pageSize)
                pages.pointee.markScavenged(base: r.base, pages: r.bytes / pageSize)
            }
            mine.pointee.releasedBytes += releaser.releasedBytes
            mine.pointee.releaseFailures += releaser.failures
            if marked < batch { break }  // nothing more to find
        }
        return released
    }

    /// Node `n`'s figures as its retained goal reads them: the in-use bytes
    /// are the most of the last 1–2 s (``NodeScavenge/peak``, fed the node's
    /// high-water mark), so churn keeps the pages its peaks need. Node lock held.
    static func goalFiguresLocked(_ state: UnsafeMutablePointer<ScavengerState>,
                                  _ heap: UnsafeMutablePointer<HeapState>, node n: Int) -> ScavengeFigures {
        var f = figuresLocked(heap, node: n)
        let high = heap.pointee.nodes[n].takeHighWaterPages() * heap.pointee.pageSize
        let mine = state.pointee.nodes + n  // Local pointer: see Docs/Heap.md on -sanitize=thread.
        if mine.pointee.peak != nil {
            f.inUseBytes = mine.pointee.peak!.observe(peak: max(high, f.inUseBytes), now: ThreadClock.monotonicNanoseconds)
        }
        return f
    }

    /// Node `n`'s retained and in-use bytes. Node lock held.
    static func figuresLocked(_ heap: UnsafeMutablePointer<HeapState>, node n: Int) -> ScavengeFigures {
        let h = heap.pointee.nodes + n
        let page = heap.pointee.pageSize
        let counters = h.pointee._counters.pointee
        return ScavengeFigures(
            retainedBytes: counters.committedBytes - h.pointee._pages.pointee.scavengedPages * page,
            inUseBytes: h.pointee.pagesInUse * page)
    }
}

/// Ranges a scavenge walk picked, kept for advising after the node lock is
/// released: a view of the worker's list in the scavenger's mapping (no
/// allocation). The walk reports at most one range per page it is asked
/// for, so a batch of at most ``capacity`` pages always fits.
struct DeferredRanges: PageReleaser {
    static var capacity: Int { 256 }
    static var byteCount: Int { 2 * capacity * MemoryLayout<UInt>.stride }
    let storage: UnsafeMutablePointer<UInt>
    private(set) var count = 0

    init(storage: UnsafeMutablePointer<UInt>) { self.storage = storage }

    subscript(i: Int) -> (base: UInt, bytes: Int) { (storage[2 * i], Int(storage[2 * i + 1])) }

    mutating func release(base: UInt, bytes: Int) {
        if _slowPath(count == DeferredRanges.capacity) {
            FatalMessage("NUMAHeap: scavenger: more than ").decimal(DeferredRanges.capacity)
                .text(" ranges in one batch").crash()
        }
        storage[2 * count] = base
        storage[2 * count + 1] = UInt(bytes)
        count += 1
    }
}

/// The heap as its background worker sees it: one goal per node — a node
/// retains at most its own in-use bytes × (1 + p), so memory freed on one node
/// is released there and another node's free pages, within its goal, stay —
/// and the memory limit over every node's figures summed. Each node's figures
/// are read and its pages picked and freed back under that node's lock, one
/// node at a time; the `madvise` calls run with it released
/// (``ScavengerState/releaseAdvisingUnlocked(_:_:node:bytes:lock:)``), and it is never
/// held while the worker sleeps.
struct HeapScavengeTarget: ScavengeTarget, @unchecked Sendable {
    let heap: UnsafeMutablePointer<HeapState>

    var retainedBytes: Int { figures.retainedBytes }
    var inUseBytes: Int { figures.inUseBytes }

    /// Every node's figures, summed.
    var figures: ScavengeFigures {
        var total = ScavengeFigures(retainedBytes: 0, inUseBytes: 0)
        for n in 0..<heap.pointee.nodeCount {
            let f = nodeFigures(n)
            total.retainedBytes += f.retainedBytes
            total.inUseBytes += f.inUseBytes
        }
        return total
    }

    func nodeFigures(_ n: Int) -> ScavengeFigures {
        let lock = heap.pointee.nodes[n].lock
        lock.lock()
        defer { lock.unlock() }
        return ScavengerState.figuresLocked(heap, node: n)
    }

    /// The nodes' excesses over their own goals (from their recent peaks),
    /// summed; or what the whole heap has over the memory limit's goal, when
    /// that is more.
    func bytesToRelease(toward goal: ScavengeGoal, figures: ScavengeFigures) -> Int {
        guard let state = ScavengerState.of(heap) else { return 0 }
        var overNodeGoals = 0
        for n in 0..<heap.pointee.nodeCount {
            let lock = heap.pointee.nodes[n].lock
            lock.lock()
            overNodeGoals += goal.bytesOverRetainedGoal(ScavengerState.goalFiguresLocked(state, heap, node: n))
            lock.unlock()
        }
        return max(overNodeGoals, goal.bytesOverLimitGoal(figures))
    }

    /// A fall of the in-use bytes larger than the goal's slack (`bytes` ≥
    /// retainExtraPercent of the nodes' peaks) is memory given back for
    /// good: every node's goal follows its in-use bytes from now, so it is
    /// released at this look, not when the peaks age out. A smaller fall is
    /// churn within the slack, and the peaks stand.
    func inUseShrank(bytes: Int) {
        guard let state = ScavengerState.of(heap), let percent = state.pointee.goal.retainExtraPercent else { return }
        var peaks = 0
        for n in 0..<heap.pointee.nodeCount {
            let lock = heap.pointee.nodes[n].lock
            lock.lock()
            peaks += (state.pointee.nodes + n).pointee.peak?.peak ?? 0
            lock.unlock()
        }
        guard bytes / max(percent, 1) >= peaks / 100 else { return }
        let now = ThreadClock.monotonicNanoseconds
        for n in 0..<heap.pointee.nodeCount {
            let lock = heap.pointee.nodes[n].lock
            lock.lock()
            let inUse = ScavengerState.figuresLocked(heap, node: n).inUseBytes
            let mine = state.pointee.nodes + n
            mine.pointee.peak?.reset(to: inUse, now: now)
            lock.unlock()
        }
    }

    /// Releases up to `bytes`: first from each node what it has over its own
    /// goal (decided under its lock, as it stands then); then, only while the
    /// heap is over the memory limit's goal, from any node's free pages,
    /// lowest node first.
    func scavenge(bytes: Int) -> Int {
        guard let state = ScavengerState.of(heap) else { return 0 }
        let goal = state.pointee.goal
        let releaseLock = state.pointee.releaseLock
        releaseLock.lock()
        defer { releaseLock.unlock() }
        var released = 0
        for n in 0..<heap.pointee.nodeCount where released < bytes {
            let lock = heap.pointee.nodes[n].lock
            lock.lock()
            let excess = goal.bytesOverRetainedGoal(ScavengerState.goalFiguresLocked(state, heap, node: n))
            if excess > 0 {
                released += ScavengerState.releaseAdvisingUnlocked(state, heap, node: n,
                                                                   bytes: min(excess, bytes - released), lock: lock)
            }
            lock.unlock()
        }
        if released < bytes && goal.bytesOverLimitGoal(figures) > 0 {
            for n in 0..<heap.pointee.nodeCount where released < bytes {
                let lock = heap.pointee.nodes[n].lock
                lock.lock()
                released += ScavengerState.releaseAdvisingUnlocked(state, heap, node: n, bytes: bytes - released, lock: lock)
                lock.unlock()
            }
        }
        return released
    }

    /// Every node's fewest in-use pages since the last look, summed (no more
    /// than the fewest of the sum): troughs the worker's looks miss.
    func lowestInUseBytesSinceLastLook() -> Int? {
        var pages = 0
        for n in 0..<heap.pointee.nodeCount { pages += heap.pointee.nodes[n].takeLowWaterPages() }
        return pages * heap.pointee.pageSize
    }

    /// Takes back what idle threads hold (``HeapCore/trimIdleThreads()``).
    func trimIdle() { HeapCore(state: heap).trimIdleThreads() }

    func scavengeCycleEnded() {
        guard let state = ScavengerState.of(heap) else { return }
        for n in 0..<heap.pointee.nodeCount {
            let lock = heap.pointee.nodes[n].lock
            lock.lock()
            let node = state.pointee.nodes + n  // Local pointer: see Docs/Heap.md on -sanitize=thread.
            node.pointee.walker.resetCursor()
            lock.unlock()
        }
    }
}
