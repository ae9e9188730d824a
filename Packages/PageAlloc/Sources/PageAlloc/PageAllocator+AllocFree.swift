// PageAllocator+AllocFree: allocate, free, and update (Go's pageAlloc.alloc,
// allocRange, free, update). All under the owner's lock.
import Platform

extension PageAllocator {
    /// Allocates `pages` contiguous pages at the lowest address where they fit.
    ///
    /// - Returns: the run's base address and how many of its bytes were
    ///   scavenged (the owner must make them usable again — e.g. they read as
    ///   zero after `MADV_DONTNEED`); nil when no run of `pages` free pages
    ///   exists. The scavenged bits of the run are cleared.
    /// - Precondition: `pages > 0`.
    @inlinable
    public mutating func allocate(pages: Int) -> (base: UInt, scavengedBytes: Int)? {
        if _slowPath(pages <= 0) { misuseAllocate(pages) }
        guard let r = allocatePages(UInt(pages)) else { return nil }
        return (r.page << pageShift, Int(r.scavenged << pageShift))
    }

    /// Allocates exactly the `pages` pages from `base` when every one of them
    /// is free (a block that grows in place into the pages after it). Nil,
    /// changing nothing, when a page is in use, outside the grown space, or
    /// the arguments name no page range; else how many of the run's bytes were
    /// scavenged, as ``allocate(pages:)`` reports them.
    @inlinable
    public mutating func allocate(base: UInt, pages: Int) -> Int? {
        guard pages > 0, base & UInt(pageSize - 1) == 0 else { return nil }
        let page = base >> pageShift
        guard UInt(pages) <= totalPages, page + UInt(pages) <= totalPages,
              grown.contains(page, page + UInt(pages)) else { return nil }
        var p = page, left = UInt(pages)
        while left > 0 {
            let ci = p >> chunkPagesLog, i = p & (chunkPages - 1)
            let take = min(chunkPages - i, left)
            if chunks.alloc(ci).firstSet(i, take) != nil { return nil }
            p += take
            left -= take
        }
        // Pages below `searchPage` are all in use; allocating more keeps that true.
        return Int(allocRange(page, UInt(pages)) << pageShift)
    }

    /// Returns `pages` pages starting at `base` to the free space. The pages
    /// may be part of a larger allocation; they keep their scavenged bits clear.
    ///
    /// - Precondition: `pages > 0`, `base` is page-aligned, the range lies in
    ///   the grown space and every page of it is allocated.
    @inlinable
    public mutating func free(base: UInt, pages: Int) {
        let page = checkedFreeRange(base, pages)
        freePages(page, UInt(pages))
    }

    /// Go's alloc in page numbers: the search-hint fast path, else `find`.
    @usableFromInline
    mutating func allocatePages(_ n: UInt) -> (page: UInt, scavenged: UInt)? {
        if searchPage >> chunkPagesLog >= endChunk || n > freeCount { return nil }
        var page: UInt, hint: UInt
        let si = searchPage & (chunkPages - 1)
        let ci = searchPage >> chunkPagesLog
        if n <= chunkPages - si && summaries[summaryLevelCount - 1, Int(ci)].max >= n {
            // Every page below the hint is in use and the hint's chunk holds a
            // fit, so the lowest fit is in this chunk.
            let r = chunks.alloc(ci).find(n, from: si)
            guard let j = r.index else { badSummary(level: summaryLevelCount - 1, index: Int(ci), n: n) }
            page = ci << chunkPagesLog + j
            hint = ci << chunkPagesLog + r.firstFree
        } else {
            guard let r = find(n) else {
                // Not even one page: nothing is free.
                if n == 1 { searchPage = totalPages }
                return nil
            }
            page = r.page
            hint = r.searchPage
        }
        let scavenged = allocRange(page, n)
        if hint > searchPage { searchPage = hint }
        return (page, scavenged)
    }

    /// Marks `[page, page + n)` in use, clears its scavenged bits and updates
    /// the summaries. Returns how many of the pages were scavenged. Pages
    /// already in use stay in use (allocToCache takes a whole 64-page block).
    @usableFromInline
    mutating func allocRange(_ page: UInt, _ n: UInt) -> UInt {
        var scavenged: UInt = 0, wasFree: UInt = 0
        var p = page, left = n
        while left > 0 {
            let ci = p >> chunkPagesLog, i = p & (chunkPages - 1)
            let take = min(chunkPages - i, left)
            let a = chunks.alloc(ci), s = chunks.scavenged(ci)
            wasFree += take - a.popcountRange(i, take)
            scavenged += s.popcountRange(i, take)
            if take == chunkPages {
                a.setAll()
                s.clearAll()
            } else {
                a.setRange(i, take)
                s.clearRange(i, take)
            }
            p += take
            left -= take
        }
        freeCount -= wasFree
        scavengedCount -= scavenged
        update(page, n, contiguous: true, allocated: true)
        return scavenged
    }

    /// Clears the alloc bits of `[page, page + n)`, all of which are in use.
    @usableFromInline
    mutating func freePages(_ page: UInt, _ n: UInt) {
        if page < searchPage { searchPage = page }
        var p = page, left = n
        while left > 0 {
            let ci = p >> chunkPagesLog, i = p & (chunkPages - 1)
            let take = min(chunkPages - i, left)
            if take == chunkPages { chunks.alloc(ci).clearAll() } else { chunks.alloc(ci).clearRange(i, take) }
            p += take
            left -= take
        }
        freeCount += n
        update(page, n, contiguous: true, allocated: false)
    }

    /// Recomputes the summaries over `[page, page + n)` after its bitmaps
    /// changed (Go's update). `contiguous` says the whole range was allocated
    /// (`allocated`) or freed, so chunks strictly inside it need no scan.
    @usableFromInline
    func update(_ page: UInt, _ n: UInt, contiguous: Bool, allocated: Bool) {
        let leaf = summaryLevelCount - 1
        let sc = page >> chunkPagesLog, ec = (page + n - 1) >> chunkPagesLog
        if sc == ec {
            let y = chunks.alloc(sc).summarize()
            if summaries[leaf, Int(sc)] == y { return }
            summaries[leaf, Int(sc)] = y
        } else if contiguous {
            summaries[leaf, Int(sc)] = chunks.alloc(sc).summarize()
            let whole: PackedSummary = allocated ? .full : .freeChunk
            var c = sc + 1
            while c < ec { summaries[leaf, Int(c)] = whole; c += 1 }
            summaries[leaf, Int(ec)] = chunks.alloc(ec).summarize()
        } else {
            for c in sc...ec { summaries[leaf, Int(c)] = chunks.alloc(c).summarize() }
        }
        // Walk up while something changed.
        var level = leaf - 1
        while level >= 0 {
            var changed = false
            let shift = SummaryLevels.chunkShift(level)
            let logChild = SummaryLevels.logPages(level + 1)
            for i in Int(sc >> shift)...Int(ec >> shift) {
                let sum = PackedSummary.merge(summaries.pointer(level + 1, i << 3), count: 8, logChildPages: logChild)
                if summaries[level, i] != sum {
                    summaries[level, i] = sum
                    changed = true
                }
            }
            if !changed { return }
            level -= 1
        }
    }
}
