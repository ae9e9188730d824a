import Central
import Glibc
import Synchronization

/// The free memory a thread holds for its own reuse — its span stash (the
/// 64-page ``PageCache``, the small spans it freed and holds) and its kept
/// large spans (``ThreadLargeSpans``) — and who may touch it: its owner, or
/// the background scavenger taking it back once the owner has gone idle, so
/// that an idle thread does not keep that memory resident indefinitely.
///
/// ## The claim
/// A word in the cache record's scratch area: 0 free, 1 the owner, 2 the
/// scavenger. The owner claims it (compare-exchange 0 → 1, acquiring) around
/// every use of the held memory — each is a span-level path (a small span
/// made or freed, a large block allocated or freed), never the per-object
/// fast path — and yields while the scavenger holds it. The scavenger only
/// *tries* (0 → 2) and passes over a claimed record, so it never waits for a
/// thread. Everything the claim guards is written only by its holder, and the
/// acquire/release pair orders it.
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
/// ## fork
/// A child may inherit a claim the parent's scavenger held: ``HeapCore/childAfterFork()``
/// clears every claim (the child's only thread is the one that forked).
enum ThreadHeldMemory {
    /// Offset of the claim in the cache record's scratch (after ``ThreadLargeSpans``).
    static var scratchOffset: Int { 768 }
    /// Bytes the claim, the use count, the trim pass's last-seen count and
    /// the thread's interleave turn take there.
    static var scratchBytes: Int { 32 }

    static func claim(_ cache: UnsafeMutablePointer<ThreadCache>) -> UnsafeMutablePointer<Atomic<Int>> {
        (cache.pointee.heapScratch + scratchOffset).assumingMemoryBound(to: Atomic<Int>.self)
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
        while !c.pointee.compareExchange(expected: free, desired: owner, ordering: .acquiring).exchanged {
            sched_yield()  // the scavenger is taking the held memory back (a few µs)
        }
        uses(cache).pointee &+= 1
    }

    @inline(__always)
    static func release(_ cache: UnsafeMutablePointer<ThreadCache>) {
        claim(cache).pointee.store(free, ordering: .releasing)
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
    /// to its node — so the scavenger can release the pages. Returns the
    /// records trimmed. Takes the cache lock briefly, then each trimmed
    /// record's nodes' locks; never waits for a thread.
    @discardableResult
    public func trimIdleThreads() -> Int { trimThreads(idleOnly: true) }

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
            let claim = ThreadHeldMemory.claim(cache)
            if claim.pointee.compareExchange(expected: ThreadHeldMemory.free, desired: ThreadHeldMemory.scavenger,
                                             ordering: .acquiring).exchanged {
                let uses = ThreadHeldMemory.uses(cache).pointee
                if (!idleOnly || uses == ThreadHeldMemory.seenUses(cache).pointee) && holdsMemory(cache) {
                    returnHeldMemory(cache)
                    trimmed += 1
                }
                ThreadHeldMemory.seenUses(cache).pointee = uses
                claim.pointee.store(ThreadHeldMemory.free, ordering: .releasing)
            }
            link = ThreadHeldMemory.next(after: cache)
        }
        return trimmed
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

    /// After `fork()`, in the child: no claim is held (the parent's scavenger
    /// may have held one when the process forked).
    func clearHeldMemoryClaims() {
        var link = state.pointee.cacheFields.pointee.allCaches
        while let cache = link {
            ThreadHeldMemory.claim(cache).pointee.store(ThreadHeldMemory.free, ordering: .relaxed)
            link = ThreadHeldMemory.next(after: cache)
        }
    }
}
