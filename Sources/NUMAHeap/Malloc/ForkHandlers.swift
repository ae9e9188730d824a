import Central
import Glibc
import Platform

// Fork safety for the malloc library (Sources/NUMAHeapMalloc): its
// `pthread_atfork` handlers call these.

extension HeapCore {
    /// Takes every lock of this heap, and the registry lock, in the documented
    /// order, so that `fork()` copies them unheld by any other thread: the
    /// registry lock (outermost), the scavenger's release lock, every central list's lock of every node, every
    /// node's lock, the arena lock, the cache lock, and last the background
    /// scavenger's mutex (heap locks → worker mutex is its rule; the worker holds
    /// it between steps). For `pthread_atfork`'s `prepare` handler; follow with
    /// ``parentAfterFork()`` or ``childAfterFork()``.
    public func prepareForFork() {
        // First the calling thread's own claim, so that the trim pass is not
        // emptying its cache as the process forks (the child goes on with it).
        if let cache = HeapState.existingCache(state) { ThreadHeldMemory.acquire(cache) }
        HeapRegistry.lock()
        let s = state
        ScavengerState.of(s)?.pointee.releaseLock.lock()
        for n in 0..<s.pointee.nodeCount {
            let central = s.pointee.nodes[n].central
            for c in 0..<s.pointee.spanClassCount { (central + c).pointee.lock.lock() }
        }
        for n in 0..<s.pointee.nodeCount { s.pointee.nodes[n].lock.lock() }
        s.pointee.arenaLock.lock()
        s.pointee.cacheLock.lock()
        ScavengerState.of(s)?.pointee.worker?.prepareForFork()
    }

    /// Releases what ``prepareForFork()`` took, in the reverse order (parent).
    public func parentAfterFork() {
        ScavengerState.of(state)?.pointee.worker?.parentAfterFork()
        releaseForkLocks()
        if let cache = HeapState.existingCache(state) { ThreadHeldMemory.release(cache) }
    }

    /// Releases what ``prepareForFork()`` took, in the child. The locks are
    /// normal (not error-checking) mutexes, so the child's only thread — the copy
    /// of the one that took them — may unlock them. The caches of the parent's
    /// other threads stay bound to threads that do not exist in the child: their
    /// spans are not reused by the child (a bounded leak, as in Go after fork).
    /// The scavenger's worker thread does not exist in the child either: its
    /// state is reset so that the child's next growth starts one of its own.
    public func childAfterFork() {
        ScavengerState.of(state)?.pointee.worker?.childAfterFork()
        clearHeldMemoryClaims()  // the calling thread's own claim too
        // Whether the child inherits the registration is the kernel's affair:
        // register again (a failed barrier only makes trim passes skip records).
        _ = ProcessBarrier.register()
        releaseForkLocks()
    }

    func releaseForkLocks() {
        let s = state
        s.pointee.cacheLock.unlock()
        s.pointee.arenaLock.unlock()
        for n in (0..<s.pointee.nodeCount).reversed() { s.pointee.nodes[n].lock.unlock() }
        for n in (0..<s.pointee.nodeCount).reversed() {
            let central = s.pointee.nodes[n].central
            for c in (0..<s.pointee.spanClassCount).reversed() { (central + c).pointee.lock.unlock() }
        }
        ScavengerState.of(s)?.pointee.releaseLock.unlock()
        HeapRegistry.unlock()
    }
}
