// releaseFreeMemory: Go's scavengeAll / debug.FreeOSMemory.
import PageAlloc
import Platform
import Scavenger

extension HeapCore {
    /// Returns the heap's free pages to the system now (Go's `debug.FreeOSMemory`)
    /// and reports the bytes released. Pages already released are not counted
    /// again. Also freed first: the calling thread's bins, kept large spans and
    /// held small spans, every other thread's kept and held spans and page
    /// cache (``HeapCore/trimThreads(idleOnly:)``: those not in use at that
    /// moment), the large spans every node's threads share
    /// (``NodeLargeSpans``), and every central list's kept empty spans. Not reached: other
    /// live threads' free-object bins and current spans, until they flush,
    /// refill or exit. Takes each node's lock in turn, and drops it for the
    /// `madvise` calls of each batch of up to 256 pages (those pages are out
    /// of the page allocator meanwhile); the background worker, if any, keeps
    /// running (it waits for the release lock, then finds nothing left to do).
    @discardableResult
    public func releaseFreeMemory() -> Int {
        // The calling thread's binned blocks and the spans it freed but holds,
        // then the central lists' retained empty spans, so their pages are free too.
        if let cache = HeapState.existingCache(state) {
            returnAllObjects(cache)
            ThreadHeldMemory.acquire(cache)
            returnLargeSpans(cache)
            NodeSpanSource.returnFreedSpans(ThreadSpanStash.of(cache), state: state)
            ThreadHeldMemory.release(cache)
        }
        // What the other threads hold for reuse (their claims permitting).
        trimThreads(idleOnly: false)
        // The spans the nodes' threads share (NodeLargeSpans).
        trimNodeLargeSpans(idleOnly: false)
        releaseRetainedSpans()
        let s = state
        // Everything read from the heap's state goes into locals first: some
        // projections through `state.pointee` crash Swift 6.3.1's compiler under
        // -sanitize=thread (see Docs/Heap.md).
        let nodes = s.pointee.nodes
        let nodeCount = s.pointee.nodeCount
        let advice: MemoryAdvice = s.pointee.configuration.releaseMethod == .free ? .free : .dontNeed
        let scavenger = ScavengerState.of(s)
        // 2^48 bytes: all of the address space the page allocator can manage
        // (Int.max would overflow its page rounding).
        let everything = 1 << 48
        var total = 0
        if let sc = scavenger {
            // Advised with each node's lock dropped, batch by batch, as the
            // background worker advises (the release lock makes the list ours).
            let releaseLock = sc.pointee.releaseLock
            releaseLock.lock()
            for n in 0..<nodeCount {
                let lock = nodes[n].lock
                lock.lock()
                total &+= ScavengerState.releaseAdvisingUnlocked(sc, s, node: n, bytes: everything, lock: lock)
                lock.unlock()
            }
            releaseLock.unlock()
            return total
        }
        // No scavenger state (its mapping failed): advised under the node lock.
        for n in 0..<nodeCount {
            let lock = nodes[n].lock
            let pages = nodes[n]._pages
            lock.lock()
            var releaser = MadviseReleaser(advice: advice)
            total &+= pages.pointee.scavenge(bytes: everything, releaser: &releaser)
            lock.unlock()
        }
        return total
    }
}

extension Heap {
    /// Stops the heap's background scavenger and waits for its thread to
    /// exit; it stays stopped until ``startBackgroundScavenger()``. Free
    /// memory is then released only when the heap grows past its goal or by
    /// ``releaseFreeMemory()``.
    public func stopBackgroundScavenger() { core.stopBackgroundScavenger() }

    /// Starts the background scavenger now (normally the heap's first growth
    /// starts it). Returns false when scavenging is `.disabled` or the thread
    /// cannot be created.
    @discardableResult
    public func startBackgroundScavenger() -> Bool { core.startBackgroundScavenger() }
}

extension HeapCore {
    /// See ``Heap/stopBackgroundScavenger()``.
    public func stopBackgroundScavenger() {
        ScavengerState.of(state)?.pointee.worker?.stop()
    }

    /// See ``Heap/startBackgroundScavenger()``.
    @discardableResult
    public func startBackgroundScavenger() -> Bool {
        ScavengerState.of(state)?.pointee.worker?.start() ?? false
    }
}
