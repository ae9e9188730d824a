// PageAllocator+Scavenge: the scavenged bitmap's API (the parts of Go's
// mgcscavenge.go that live in the page allocator). A scavenged bit may be set
// only on a free page; allocate clears it and reports the bytes. The policy —
// how much to release and when — belongs to the Scavenger package; this file
// finds candidates from the top of the grown space down, marks them and
// reports each range to a PageReleaser.
import Platform

/// Receives the ranges that ``PageAllocator/scavenge(bytes:releaser:)`` marks
/// scavenged, highest addresses first — e.g. to `madvise` them away.
public protocol PageReleaser {
    /// `[base, base + bytes)` is free and now counted as released.
    mutating func release(base: UInt, bytes: Int)
}

/// A releaser that does nothing: the ranges are only marked scavenged.
public struct DiscardingReleaser: PageReleaser {
    @inlinable public init() {}
    @inlinable public mutating func release(base: UInt, bytes: Int) {}
}

extension PageAllocator {
    /// Marks free, unscavenged pages scavenged, from the highest address down,
    /// until `bytes` (rounded up to whole pages) are marked or none is left,
    /// and reports each range to `releaser`.
    ///
    /// Successive calls continue below where the last one stopped and wrap to
    /// the top once per call when they reach the bottom (Go's scavAddr).
    /// - Returns: the bytes marked and reported.
    @inlinable
    public mutating func scavenge<R: PageReleaser>(bytes: Int, releaser: inout R) -> Int {
        if bytes < 0 { misuseScavenge(bytes) }
        var released = 0
        var wrapped = false
        while released < bytes && scavengedCount < freeCount {
            let want = (bytes - released + pageSize - 1) >> Int(pageShift)
            if let run = scavengeCandidate(belowPage: scavengePage, maxPages: UInt(want)) {
                markScavengedPages(run.page, run.count)
                let n = Int(run.count) << Int(pageShift)
                releaser.release(base: run.page << pageShift, bytes: n)
                released += n
                scavengePage = run.page
            } else {
                if wrapped { break }
                wrapped = true
                scavengePage = grown.count == 0 ? 0 : grown.hi(grown.count - 1)
            }
        }
        return released
    }

    /// Marks up to `bytes` of free pages scavenged without releasing anything
    /// itself — for a range that is not memory, or an owner that releases on
    /// its own. Returns the bytes marked.
    public mutating func scavenge(bytes: Int) -> Int {
        var none = DiscardingReleaser()
        return scavenge(bytes: bytes, releaser: &none)
    }

    /// The highest-addressed run of free, unscavenged pages that lies wholly
    /// below `address`, cut to its top `maxPages` pages, or nil when there is
    /// none. Runs do not cross chunk boundaries (512 pages). Changes nothing.
    public func findScavengeCandidate(below address: UInt, maxPages: Int) -> (base: UInt, pages: Int)? {
        if maxPages <= 0 {
            FatalMessage("PageAlloc: findScavengeCandidate(below: ").hex(address).text(", maxPages: ")
                .decimal(maxPages).text("): maxPages must be positive").crash()
        }
        guard let r = scavengeCandidate(belowPage: min(address >> pageShift, totalPages), maxPages: UInt(maxPages)) else { return nil }
        return (r.page << pageShift, Int(r.count))
    }

    /// Marks `pages` free pages from `base` scavenged (already scavenged ones
    /// stay so). Reports nothing; the caller releases the range itself.
    /// - Precondition: the range is page-aligned, grown, and every page is free.
    public mutating func markScavenged(base: UInt, pages: Int) {
        let page = checkedFreeGrownRange("markScavenged", base, pages)
        markScavengedPages(page, UInt(pages))
    }

    @usableFromInline
    mutating func markScavengedPages(_ page: UInt, _ n: UInt) {
        var p = page, left = n
        while left > 0 {
            let ci = p >> chunkPagesLog, i = p & (chunkPages - 1)
            let take = min(chunkPages - i, left)
            let s = chunks.scavenged(ci)
            scavengedCount += take - s.popcountRange(i, take)
            s.setRange(i, take)
            p += take
            left -= take
        }
    }

    /// Finds the highest run of free, unscavenged pages ending at or below
    /// page `limit`, within one chunk, at most `maxPages` long (its top part).
    /// Walks grown ranges and chunks downward; skips chunks whose leaf summary
    /// says no page is free.
    @usableFromInline
    func scavengeCandidate(belowPage limit: UInt, maxPages: UInt) -> (page: UInt, count: UInt)? {
        if limit == 0 || grown.count == 0 { return nil }
        var r = grown.firstEnding(after: limit - 1)
        if r == grown.count || grown.lo(r) >= limit { r -= 1 }
        while r >= 0 {
            let lo = grown.lo(r), top = min(grown.hi(r), limit)
            var ci = (top - 1) >> chunkPagesLog
            while true {
                if summaries[summaryLevelCount - 1, Int(ci)].raw != 0 {
                    let chunkTop = ci == (top - 1) >> chunkPagesLog ? ((top - 1) & (chunkPages - 1)) + 1 : chunkPages
                    if let run = scavengeCandidate(inChunk: ci, below: chunkTop, maxPages: maxPages) {
                        return (ci << chunkPagesLog + run.index, run.count)
                    }
                }
                if ci == lo >> chunkPagesLog { break }
                ci -= 1
            }
            r -= 1
        }
        return nil
    }

    /// Within chunk `ci`, the highest run of free, unscavenged pages below page
    /// index `top`, cut to its top `maxPages` pages (Go's findScavengeCandidate).
    @usableFromInline
    func scavengeCandidate(inChunk ci: UInt, below top: UInt, maxPages: UInt) -> (index: UInt, count: UInt)? {
        let a = chunks.alloc(ci).words, s = chunks.scavenged(ci).words
        var w = BitIndex.word(top - 1)
        // Candidates: free and not scavenged; bits at or above `top` ignored.
        var c = ~(a[w] | s[w]) & PallocBits.mask(0, BitIndex.offset(top - 1) + 1)
        while c == 0 {
            if w == 0 { return nil }
            w -= 1
            c = ~(a[w] | s[w])
        }
        let high = UInt(63 - c.leadingZeroBitCount)
        let runTop = UInt(BitIndex.firstBit(ofWord: w)) + high   // inclusive
        // Extend the run downward, word by word, up to maxPages.
        var count = UInt((~(c << (63 - UInt64(high)))).leadingZeroBitCount)
        if count == high + 1 {
            while w > 0 && count < maxPages {
                w -= 1
                let ones = UInt((a[w] | s[w]).leadingZeroBitCount)
                count += ones
                if ones < 64 { break }
            }
        }
        count = min(count, maxPages)
        return (runTop + 1 - count, count)
    }

    @usableFromInline @inline(never)
    func misuseScavenge(_ bytes: Int) -> Never {
        FatalMessage("PageAlloc: scavenge(bytes: ").decimal(bytes).text("): the byte count must not be negative").crash()
    }
}
