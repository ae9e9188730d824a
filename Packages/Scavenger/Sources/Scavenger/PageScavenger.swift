// PageScavenger: the walk that picks which free pages of a PageAllocator to
// release — Go 1.14's scavengeOne/scavengeRangeLocked with its huge-page rule,
// over PageAlloc's findScavengeCandidate and markScavenged. Highest addresses
// first (the heap allocates lowest first, so the top is the least likely to be
// reused soon), from a cursor that continues where the last call stopped and
// wraps to the top once per call (Go's scavAddr).
//
// Owned by the page allocator's owner: every call runs under the lock that
// guards the allocator (a node's lock in NUMAHeap).
import PageAlloc

/// Chooses free, unscavenged pages from the top of a `PageAllocator` down,
/// marks them scavenged and reports them to a `PageReleaser`.
public struct PageScavenger: Sendable {
    /// The walk continues below this address (Go's `scavAddr`); `UInt.max`
    /// starts at the top.
    public private(set) var cursor: UInt = .max
    /// Set when a whole walk found no wholly free huge page; the background
    /// walk then goes straight to partial runs until ``resetCursor()``.
    public private(set) var noWholeHugePages = false

    public init() {}

    /// Starts the next walk at the top (Go's `resetScavengeAddr`, once per
    /// scavenge cycle).
    public mutating func resetCursor() {
        cursor = .max
        noWholeHugePages = false
    }

    /// Releases at least `bytes` (rounded up to pages, and to huge pages where
    /// whole ones are released) of free, unscavenged pages, or all there are.
    ///
    /// With huge pages active, a first pass releases only wholly free huge
    /// pages; runs that would split a huge page holding live pages are taken
    /// in a second pass, only for what the first could not find.
    /// - Returns: the bytes marked scavenged and reported to `releaser`.
    public mutating func scavenge<R: PageReleaser>(
        _ pages: inout PageAllocator, bytes: Int, hugePages: HugePagePolicy, releaser: inout R
    ) -> Int {
        guard bytes > 0 else { return 0 }
        var released = 0
        if hugePages.isActive && !noWholeHugePages {
            released = walk(&pages, bytes: bytes, wholeHugePagesOnly: true, hugePages: hugePages, releaser: &releaser)
            if released < bytes { noWholeHugePages = true }
        }
        if released < bytes {
            released += walk(&pages, bytes: bytes - released, wholeHugePagesOnly: false,
                             hugePages: hugePages, releaser: &releaser)
        }
        return released
    }

    mutating func walk<R: PageReleaser>(
        _ pages: inout PageAllocator, bytes: Int, wholeHugePagesOnly: Bool,
        hugePages: HugePagePolicy, releaser: inout R
    ) -> Int {
        let pageSize = pages.pageSize
        let chunkPages = pages.chunkSize / pageSize
        var released = 0
        var below = cursor
        var wrapped = false
        while released < bytes {
            guard let run = pages.findScavengeCandidate(below: below, maxPages: chunkPages) else {
                if wrapped || below == .max { break }
                wrapped = true
                below = .max
                continue
            }
            let runBase = run.base, runEnd = run.base + UInt(run.pages * pageSize)
            let want = UInt(bytes - released)
            var start: UInt, end: UInt
            if wholeHugePagesOnly {
                guard let whole = hugePages.wholeHugePages(base: runBase, end: runEnd) else {
                    below = runBase   // a run inside partly used huge pages: not now
                    continue
                }
                let h = UInt(hugePages.hugePageSize)
                let wantRounded = (want + h - 1) / h * h
                start = whole.end - whole.base > wantRounded ? whole.end - wantRounded : whole.base
                end = whole.end
            } else {
                end = runEnd
                start = runEnd - runBase > want ? runEnd - (want + UInt(pageSize) - 1) / UInt(pageSize) * UInt(pageSize) : runBase
                start = hugePages.extendDown(start: start, runBase: runBase)
            }
            let n = Int(end - start) / pageSize
            pages.markScavenged(base: start, pages: n)
            releaser.release(base: start, bytes: n * pageSize)
            released += n * pageSize
            // The pages between `end` and the run's top (whole-huge-page pass)
            // stay candidates for the second pass; continue below this piece.
            below = start
        }
        cursor = below
        return released
    }
}
