// MadviseReleaser: returns the ranges a PageScavenger picks to the kernel
// (Go's sysUnused). Runs under the page allocator's lock; never allocates.
import PageAlloc
import Glibc
import Platform

/// A `PageReleaser` that calls `madvise(2)` on each range.
///
/// `MADV_DONTNEED` drops the pages now: RSS falls at once and the range reads
/// as zero. `MADV_FREE` lets the kernel drop them lazily: RSS falls only under
/// memory pressure, and until then a page may keep its old contents — so a
/// reused page must be treated as dirty (the heap's `needzero`). A kernel
/// without `MADV_FREE` (before 4.5, EINVAL) falls back to `MADV_DONTNEED`.
/// A failure leaves the pages backed: it is counted, never fatal.
public struct MadviseReleaser: PageReleaser {
    /// `.dontNeed` or `.free`.
    public private(set) var advice: MemoryAdvice
    /// Bytes passed to successful `madvise` calls.
    public private(set) var releasedBytes = 0
    /// `madvise` calls made, and how many failed.
    public private(set) var calls = 0
    public private(set) var failures = 0

    public init(advice: MemoryAdvice = .dontNeed) { self.advice = advice }

    public mutating func release(base: UInt, bytes: Int) {
        guard let p = UnsafeMutableRawPointer(bitPattern: base), bytes > 0 else { return }
        calls += 1
        switch SystemMemory.advise(p, bytes: bytes, advice) {
        case .success:
            releasedBytes += bytes
        case .failure(let e):
            if advice == .free && e.code == EINVAL {
                advice = .dontNeed
                calls += 1
                if case .success = SystemMemory.advise(p, bytes: bytes, .dontNeed) {
                    releasedBytes += bytes
                    return
                }
            }
            failures += 1
        }
    }
}
