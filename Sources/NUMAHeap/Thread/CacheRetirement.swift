import Central
import Platform
import SpanCore
import Synchronization

extension HeapState {
    /// Flushes a cache whose thread exited and moves it to the retired pool,
    /// folding its counters into the heap's.
    static func retire(cache: UnsafeMutablePointer<ThreadCache>, of state: UnsafeMutablePointer<HeapState>) {
        // Under the cache's claim: the trim pass neither empties it meanwhile
        // nor reads the thread's guard flags once they are gone.
        ThreadHeldMemory.acquire(cache)
        HeapCore(state: state).returnAllObjects(cache, holdingClaim: true)
        ThreadCache.flush(cache, directory: HeapDirectory(state: state))
        // Its kept and held spans, page cache and span records go back to their nodes.
        HeapCore(state: state).returnHeldMemory(cache)
        ThreadHeldMemory.guardFlag(cache).pointee = nil
        ThreadHeldMemory.reclaimFlag(cache).pointee = nil
        ThreadHeldMemory.release(cache)
        state.pointee.cacheLock.lock()
        let n = state.pointee.sizeClassCount
        // Pointers are read once into locals: a compound assignment through
        // `state.pointee.retiredCounters[c]` crashes Swift 6.3.1's compiler
        // under -sanitize=thread (an invalid bitcast in TSan's access instrumentation).
        let counters = state.pointee.retiredCounters
        let fields = state.pointee.cacheFields
        let mallocs = cache.pointee.mallocs
        let frees = cache.pointee.frees
        for c in 0..<n {
            counters[c] += mallocs[c].exchange(0, ordering: .relaxed)
            counters[n + c] += frees[c].exchange(0, ordering: .relaxed)
        }
        fields.pointee.retiredLargeBytesAllocated += cache.pointee.largeBytesAllocated.pointee.exchange(0, ordering: .relaxed)
        fields.pointee.retiredLargeBytesFreed += cache.pointee.largeBytesFreed.pointee.exchange(0, ordering: .relaxed)
        cache.pointee.retired = true
        cache.pointee.nextInThread = UnsafeMutableRawPointer(fields.pointee.retiredCaches)
        fields.pointee.retiredCaches = cache
        state.pointee.cacheLock.unlock()
    }
}
