import Central
import Platform
import SpanCore

extension HeapState {
    /// Flushes a cache whose thread exited and moves it to the retired pool,
    /// folding its counters into the heap's.
    static func retire(cache: UnsafeMutablePointer<ThreadCache>, of state: UnsafeMutablePointer<HeapState>) {
        cache.pointee.flush(directory: HeapDirectory(state: state))
        state.pointee.cacheLock.lock()
        let n = state.pointee.sizeClassCount
        for c in 0..<n {
            state.pointee.retiredCounters[c] += cache.pointee.mallocs[c]
            state.pointee.retiredCounters[n + c] += cache.pointee.frees[c]
            cache.pointee.mallocs[c] = 0
            cache.pointee.frees[c] = 0
        }
        state.pointee.retiredLargeBytesAllocated += cache.pointee.largeBytesAllocated
        state.pointee.retiredLargeBytesFreed += cache.pointee.largeBytesFreed
        cache.pointee.largeBytesAllocated = 0
        cache.pointee.largeBytesFreed = 0
        cache.pointee.retired = true
        cache.pointee.nextInThread = state.pointee.retiredCaches.map { UnsafeMutableRawPointer($0) }
        state.pointee.retiredCaches = cache
        state.pointee.cacheLock.unlock()
    }
}
