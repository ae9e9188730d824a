import ArenaMap
import PageAlloc
import Platform

/// Returns ranges the page allocator marks scavenged to the system with
/// `madvise` (Go's `sysUnused`). Runs under the node's lock.
struct AddressSpaceReleaser: PageReleaser {
    let space: SystemAddressSpace
    let method: ReleaseMethod
    /// Ranges the kernel refused (counted, never fatal: the pages stay backed).
    var failures = 0

    mutating func release(base: UInt, bytes: Int) {
        if case .failure = space.release(base, bytes: bytes, method: method) { failures += 1 }
    }
}

extension HeapCore {
    /// Returns every free page to the system now (Go's `debug.FreeOSMemory`)
    /// and reports the bytes released. Pages already released are not counted again.
    @discardableResult
    public func releaseFreeMemory() -> Int {
        releaseRetainedSpans()
        let s = state
        let method: ReleaseMethod = s.pointee.configuration.releaseMethod == .free ? .free : .dontNeed
        var total = 0
        for n in 0..<s.pointee.nodeCount {
            let h = s.pointee.nodes + n
            h.pointee.lock.lock()
            var releaser = AddressSpaceReleaser(space: s.pointee.arenas.space, method: method)
            // 2^48 bytes: all of the address space the page allocator can manage.
            total += h.pointee.pages.scavenge(bytes: 1 << 48, releaser: &releaser)
            h.pointee.lock.unlock()
        }
        return total
    }
}
