import Central
import Glibc
import Platform
import Synchronization

/// The free memory a thread holds for its own reuse — its span stash (the
/// 64-page ``PageCache``, the small spans it freed and holds) and its kept
/// large spans (``ThreadLargeSpans``) — and who may touch it: its owner, or
/// the background scavenger taking it back once the owner has gone idle, so
/// that an idle thread does not keep that memory resident indefinitely.
///
/// ## The claim
/// The owner claims the record around every use of the held memory — each is
/// a span-level path (a small span made or freed, a large block allocated or
/// freed), never the per-object fast path — and yields while another thread
/// holds it. Another thread (the scavenger's trim pass, `releaseFreeMemory`)
/// only *tries* and passes over a record it cannot claim, so it never waits
/// for a thread. Everything the claim guards is written only by its holder.
///
/// Two words in the cache record's scratch area: `claim`, 1 while the owner
/// is inside, and `wanted`, 1 while another thread holds the record. The
/// owner's claim is an asymmetric fence, so that it takes no locked
/// instruction (two of them per large allocate/free pair cost 14 ns here,
/// more than the rest of the pair): it stores `claim` = 1, a compiler barrier,
/// then loads `wanted`; when that reads 1 it stores 0 again and yields until
/// `wanted` is 0. Another thread sets `wanted` (compare-exchange 0 → 1, so of
/// two such threads one passes over the record), calls membarrier (every CPU
/// running one of the process's threads makes a full barrier), then loads
/// `claim` and backs off if it reads 1. Either the other thread sees the
/// owner's `claim`, or the owner's load — after the barrier — sees `wanted`.
/// The owner's release and `wanted`'s clearing are releasing stores that the
/// other side's loads acquire, so the held memory's writes are ordered.
///
/// Where the process cannot register for membarrier (a kernel before 4.14, a
/// seccomp filter, valgrind) the record is `symmetric`: the owner and the
/// other threads compare-exchange `claim` (0 free, 1 the owner, 2 another
/// thread). A record's mode is set when it is made and never changes.
///
/// ## Idle
/// The owner counts its uses; a trim pass (``HeapCore/trimIdleThreads()``,
/// the background worker's, about once a second) takes back what a record
/// holds when its count has not moved since the previous pass — so memory
/// comes back one to two passes after its thread last made or freed a span.
/// What stays with an idle thread: its free-object bins (≤ about 1.8 MiB) and
/// one current span per size class, which only the owner's lock-free fast
/// paths touch.
///
/// ## Order
/// claim → node lock (the owner refills its page cache under the claim; the
/// scavenger returns held spans under it). Never taken with a node lock held.
/// The scavenger reads the list of cache records under the cache lock and
/// walks it without: records are never unlinked or unmapped while the heap
/// lives, and their `nextCache` links are written before they are published.
///
/// ## Cached blocks and spans (the malloc library only)
/// A thread's free-object bins and current spans are its lock-free fast
/// paths' alone, so the claim does not cover them. Where every path into the
/// heap is the malloc library's, which sets a thread-local guard around each
/// call (Sources/CNUMAHeapMalloc), the trim pass takes them back too: with the
/// claim held it sets the owner's reclaim flag, issues a process-wide barrier
/// (membarrier), and empties the cache only if the owner's guard reads 0; the
/// owner, after setting its guard, reads the flag and waits while it is set.
/// Either the pass sees the guard or the owner sees the flag. The linked
/// allocator does not enable this: its program may also call `Heap.shared`'s
/// Swift fast paths, which set no guard.
///
/// ## fork
/// A child may inherit a claim the parent's scavenger held: ``HeapCore/childAfterFork()``
/// clears every claim (the child's only thread is the one that forked). The
/// forking thread takes its own claim first in ``HeapCore/prepareForFork()``,
/// so its cache is never half emptied in the child.
enum ThreadHeldMemory {
    /// Offset of the claim in the cache record's scratch (after ``ThreadLargeSpans``).
    static var scratchOffset: Int { 768 }
    /// Bytes the claim, the use count, the trim pass's last-seen count, the
    /// thread's interleave turn, its guard and reclaim flags and the trim
    /// pass's last-seen activity take there.
    static var scratchBytes: Int { 72 }

    /// The malloc library's C function that tells the calling thread's guard
    /// (1 while the thread is inside the heap) and reclaim flag.
    typealias GuardProvider = @convention(c) (UnsafeMutablePointer<UnsafeMutablePointer<Int32>?>?,
                                              UnsafeMutablePointer<UnsafeMutablePointer<Int32>?>?) -> Void

    /// The owner thread's guard and reclaim flags (under the claim; nil when
    /// its heap is not the malloc library's, or after the thread exited).
    static func guardFlag(_ cache: UnsafeMutablePointer<ThreadCache>) -> UnsafeMutablePointer<UnsafeMutablePointer<Int32>?> {
        (cache.pointee.heapScratch + scratchOffset + 32).assumingMemoryBound(to: UnsafeMutablePointer<Int32>?.self)
    }
    static func reclaimFlag(_ cache: UnsafeMutablePointer<ThreadCache>) -> UnsafeMutablePointer<UnsafeMutablePointer<Int32>?> {
        (cache.pointee.heapScratch + scratchOffset + 40).assumingMemoryBound(to: UnsafeMutablePointer<Int32>?.self)
    }
    /// The cache's allocation and free counts the last trim pass saw (under the claim).
    static func seenActivity(_ cache: UnsafeMutablePointer<ThreadCache>) -> UnsafeMutablePointer<Int> {
        (cache.pointee.heapScratch + scratchOffset + 48).assumingMemoryBound(to: Int.self)
    }

    static func claim(_ cache: UnsafeMutablePointer<ThreadCache>) -> UnsafeMutablePointer<Atomic<Int>> {
        (cache.pointee.heapScratch + scratchOffset).assumingMemoryBound(to: Atomic<Int>.self)
    }
    /// 1 while a thread other than the owner holds the record (asymmetric records).
    static func wanted(_ cache: UnsafeMutablePointer<ThreadCache>) -> UnsafeMutablePointer<Atomic<Int>> {
        (cache.pointee.heapScratch + scratchOffset + 56).assumingMemoryBound(to: Atomic<Int>.self)
    }
    /// Whether the record's claims are compare-exchanges (no membarrier);
    /// written before the record is published, never after.
    static func symmetric(_ cache: UnsafeMutablePointer<ThreadCache>) -> UnsafeMutablePointer<Bool> {
        (cache.pointee.heapScratch + scratchOffset + 64).assumingMemoryBound(to: Bool.self)
    }
    /// Uses by the owner (under the claim).
    static func uses(_ cache: UnsafeMutablePointer<ThreadCache>) -> UnsafeMutablePointer<Int> {
        (cache.pointee.heapScratch + scratchOffset + 8).assumingMemoryBound(to: Int.self)
    }
    /// The use count the last trim pass saw (under the claim).
    static func seenUses(_ cache: UnsafeMutablePointer<ThreadCache>) -> UnsafeMutablePointer<Int> {
        (cache.pointee.heapScratch + scratchOffset + 16).assumingMemoryBound(to: Int.self)
    }
    /// The thread's next turn in `.interleave` placement (``HeapCore/chooseNode(_:)``).
    /// The owner's alone, and outside the claimed structs so that the
    /// scavenger's accesses to them never overlap it.
    static func interleaveTurn(_ cache: UnsafeMutablePointer<ThreadCache>) -> UnsafeMutablePointer<UInt> {
        (cache.pointee.heapScratch + scratchOffset + 24).assumingMemoryBound(to: UInt.self)
    }

    static var free: Int { 0 }
    static var owner: Int { 1 }
    static var scavenger: Int { 2 }

    /// The owner's claim; pair with ``release(_:)``.
    @inline(__always)
    static func acquire(_ cache: UnsafeMutablePointer<ThreadCache>) {
        let c = claim(cache)
        if _slowPath(symmetric(cache).pointee) {
            while !c.pointee.compareExchange(expected: free, desired: owner, ordering: .acquiring).exchanged {
                sched_yield()  // another thread is taking the held memory back (a few µs)
            }
        } else {
            c.pointee.store(owner, ordering: .relaxed)
            ProcessBarrier.compilerBarrier()  // `claim` is stored before `wanted` is loaded
            if _slowPath(wanted(cache).pointee.load(ordering: .acquiring) != 0) { waitForClaim(cache) }
        }
        uses(cache).pointee &+= 1
    }

    /// The owner found `wanted` set: steps back until the other thread is done.
    @inline(never)
    static func waitForClaim(_ cache: UnsafeMutablePointer<ThreadCache>) {
        let c = claim(cache), w = wanted(cache)
        repeat {
            c.pointee.store(free, ordering: .releasing)
            while w.pointee.load(ordering: .acquiring) != 0 { sched_yield() }
            c.pointee.store(owner, ordering: .relaxed)
            ProcessBarrier.compilerBarrier()
        } while w.pointee.load(ordering: .acquiring) != 0
    }

    @inline(__always)
    static func release(_ cache: UnsafeMutablePointer<ThreadCache>) {
        claim(cache).pointee.store(free, ordering: .releasing)
    }

    /// A thread other than the owner tries to claim the record; false when
    /// the owner (or another such thread) holds it. Pair with ``releaseTried(_:)``.
    static func tryClaim(_ cache: UnsafeMutablePointer<ThreadCache>) -> Bool {
        let c = claim(cache)
        if symmetric(cache).pointee {
            return c.pointee.compareExchange(expected: free, desired: scavenger, ordering: .acquiring).exchanged
        }
        let w = wanted(cache)
        guard w.pointee.compareExchange(expected: 0, desired: 1, ordering: .acquiring).exchanged else { return false }
        // A failed barrier orders nothing: pass over the record.
        guard ProcessBarrier.fenceAllThreads(), c.pointee.load(ordering: .acquiring) == free else {
            w.pointee.store(0, ordering: .releasing)
            return false
        }
        return true
    }

    /// Ends a claim ``tryClaim(_:)`` took.
    static func releaseTried(_ cache: UnsafeMutablePointer<ThreadCache>) {
        if symmetric(cache).pointee {
            claim(cache).pointee.store(free, ordering: .releasing)
        } else {
            wanted(cache).pointee.store(0, ordering: .releasing)
        }
    }

    /// The cache record after `cache` in the heap's list (written once,
    /// before the record was published under the cache lock).
    static func next(after cache: UnsafeMutablePointer<ThreadCache>) -> UnsafeMutablePointer<ThreadCache>? {
        cache.pointee.nextCache?.assumingMemoryBound(to: ThreadCache.self)
    }
}

extension HeapCore {
    /// One trim pass (see ``ThreadHeldMemory``): takes back what each thread
    /// holds whose use count has not moved since the last pass — its held and
    /// kept spans to their nodes' page heaps, its page cache and span records
    /// to its node — and the spans of each node's shared large-span stacks
    /// that saw no use since the last pass (``NodeLargeSpans``), so the
    /// scavenger can release the pages. Returns the records trimmed plus the
    /// shared spans returned. Takes the cache lock briefly, then each trimmed
    /// record's nodes' locks; never waits for a thread.
    @discardableResult
    public func trimIdleThreads() -> Int { trimThreads(idleOnly: true) + trimNodeLargeSpans(idleOnly: true) }

    /// Like ``trimIdleThreads()``, but with `idleOnly` false it takes back
    /// what every thread holds whose claim is free at that moment, busy or
    /// not (``releaseFreeMemory()``).
    @discardableResult
    public func trimThreads(idleOnly: Bool) -> Int {
        let s = state
        s.pointee.cacheLock.lock()
        var link = s.pointee.cacheFields.pointee.allCaches
        s.pointee.cacheLock.unlock()
        var trimmed = 0
        while let cache = link {
            if ThreadHeldMemory.tryClaim(cache) {
                if reclaimCachedObjects(cache, idleOnly: idleOnly) { trimmed += 1 }
                let uses = ThreadHeldMemory.uses(cache).pointee
                if (!idleOnly || uses == ThreadHeldMemory.seenUses(cache).pointee) && holdsMemory(cache) {
                    returnHeldMemory(cache)
                    trimmed += 1
                }
                ThreadHeldMemory.seenUses(cache).pointee = uses
                ThreadHeldMemory.releaseTried(cache)
            }
            link = ThreadHeldMemory.next(after: cache)
        }
        return trimmed
    }

    /// With the claim held by the trim pass: empties the bins and current
    /// spans of a malloc-library thread that is outside the heap (see the type's
    /// comment), when its allocation and free counts have not moved since the
    /// last pass (or always, with `idleOnly` false). True when it did.
    func reclaimCachedObjects(_ cache: UnsafeMutablePointer<ThreadCache>, idleOnly: Bool) -> Bool {
        guard let guardFlag = ThreadHeldMemory.guardFlag(cache).pointee,
              let reclaimFlag = ThreadHeldMemory.reclaimFlag(cache).pointee,
              state.pointee.cacheFields.pointee.threadGuards != nil else { return false }
        let activity = cacheActivity(cache)
        let idle = activity == ThreadHeldMemory.seenActivity(cache).pointee
        ThreadHeldMemory.seenActivity(cache).pointee = activity
        guard (idle || !idleOnly) && cacheHoldsObjects(cache) else { return false }
        let reclaim = UnsafeAtomicFlag(reclaimFlag), inside = UnsafeAtomicFlag(guardFlag)
        reclaim.raise()
        guard ProcessBarrier.fenceAllThreads(), !inside.isSet else {
            reclaim.lower()
            return false
        }
        returnAllObjects(cache, holdingClaim: true)
        ThreadCache.flush(cache, directory: HeapDirectory(state: state))
        reclaim.lower()  // the owner's wait acquires it
        return true
    }

    /// Allocations and frees counted in `cache` (its counters are atomics).
    func cacheActivity(_ cache: UnsafeMutablePointer<ThreadCache>) -> Int {
        var n = 0
        for c in 0..<state.pointee.sizeClassCount {
            n &+= (cache.pointee.mallocs + c).pointee.load(ordering: .relaxed)
            n &+= (cache.pointee.frees + c).pointee.load(ordering: .relaxed)
        }
        return n
    }

    /// Whether `cache` has binned blocks or current spans (claim held, owner outside).
    func cacheHoldsObjects(_ cache: UnsafeMutablePointer<ThreadCache>) -> Bool {
        let bins = ThreadCache.bins(cache)
        for c in 1..<state.pointee.sizeClassCount where bins[c].count > 0 { return true }
        let empty = state.pointee.emptySpan
        for slot in 0..<state.pointee.spanClassCount where cache.pointee.spans[slot] != empty { return true }
        return false
    }

    /// Whether `cache` holds spans or pages (its claim held).
    func holdsMemory(_ cache: UnsafeMutablePointer<ThreadCache>) -> Bool {
        let stash = ThreadSpanStash.of(cache)
        return stash.pointee.freedCount > 0 || !stash.pointee.pageCache.isEmpty
            || ThreadLargeSpans.of(cache).pointee.count > 0
    }

    /// Returns everything `cache` holds: kept large spans and held small
    /// spans to their nodes, the page cache and span records to the stash's
    /// node. Its claim held (by the owner or the scavenger).
    func returnHeldMemory(_ cache: UnsafeMutablePointer<ThreadCache>) {
        returnLargeSpans(cache)
        let stash = ThreadSpanStash.of(cache)
        NodeSpanSource(state: state, node: Int(stash.pointee.node)).drainThreadStash(cache)
    }

    /// The malloc library's heap: the trim pass may also take back idle
    /// threads' bins and current spans (see ``ThreadHeldMemory``), given the
    /// library's guard provider. Call before the heap is shared; does nothing
    /// where the kernel has no membarrier.
    public func enableCacheReclaim(threadGuards: @escaping @convention(c) (UnsafeMutablePointer<UnsafeMutablePointer<Int32>?>?,
                                                                       UnsafeMutablePointer<UnsafeMutablePointer<Int32>?>?) -> Void) {
        guard ProcessBarrier.register() else { return }
        state.pointee.cacheFields.pointee.threadGuards = threadGuards
    }

    /// Records the calling thread's guard and reclaim flags in its new cache
    /// record (the malloc library's heap only).
    func registerThreadGuards(_ cache: UnsafeMutablePointer<ThreadCache>) {
        guard let provider = state.pointee.cacheFields.pointee.threadGuards else { return }
        var guardFlag: UnsafeMutablePointer<Int32>? = nil, reclaimFlag: UnsafeMutablePointer<Int32>? = nil
        provider(&guardFlag, &reclaimFlag)
        ThreadHeldMemory.acquire(cache)
        ThreadHeldMemory.guardFlag(cache).pointee = guardFlag
        ThreadHeldMemory.reclaimFlag(cache).pointee = reclaimFlag
        ThreadHeldMemory.release(cache)
    }

    /// Whether the cache records made from now on claim with an asymmetric
    /// fence (membarrier registered when the heap was made).
    public var heldMemoryClaimsAreAsymmetric: Bool {
        state.pointee.cacheLock.lock()
        defer { state.pointee.cacheLock.unlock() }
        return state.pointee.cacheFields.pointee.asymmetricClaims
    }

    /// Makes the records made from now on use compare-exchange claims, as
    /// where membarrier is missing — for tests of that mode; call before any
    /// thread uses the heap.
    public func useCompareExchangeClaims() {
        state.pointee.cacheLock.lock()
        state.pointee.cacheFields.pointee.asymmetricClaims = false
        state.pointee.cacheLock.unlock()
    }

    /// After `fork()`, in the child: no claim is held (the parent's scavenger
    /// may have held one when the process forked).
    func clearHeldMemoryClaims() {
        var link = state.pointee.cacheFields.pointee.allCaches
        while let cache = link {
            ThreadHeldMemory.claim(cache).pointee.store(ThreadHeldMemory.free, ordering: .relaxed)
            ThreadHeldMemory.wanted(cache).pointee.store(0, ordering: .relaxed)
            link = ThreadHeldMemory.next(after: cache)
        }
    }
}

/// An `Int32` flag in C memory (another thread's `__thread` variable),
/// accessed atomically through a pointer.
struct UnsafeAtomicFlag {
    let atomic: UnsafeMutablePointer<Atomic<Int32>>
    init(_ pointer: UnsafeMutablePointer<Int32>) {
        atomic = UnsafeMutableRawPointer(pointer).assumingMemoryBound(to: Atomic<Int32>.self)
    }
    /// Sets it (relaxed: the barrier that follows orders it).
    func raise() { atomic.pointee.store(1, ordering: .relaxed) }
    /// Clears it, publishing what was written before.
    func lower() { atomic.pointee.store(0, ordering: .releasing) }
    var isSet: Bool { atomic.pointee.load(ordering: .relaxed) != 0 }
}
