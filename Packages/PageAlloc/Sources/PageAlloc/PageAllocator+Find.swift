// PageAllocator+Find: the radix-tree search for the lowest-addressed run of
// n free pages (Go's pageAlloc.find), the slow path of allocate.
import Platform

extension PageAllocator {
    /// The window of pages sure to hold the first free page, narrowed as the
    /// search descends (Go's firstFree). Pages, both bounds inclusive.
    @usableFromInline
    struct FirstFree {
        @usableFromInline var base: UInt
        @usableFromInline var bound: UInt

        /// Narrows the window to `[page, page + count)` when that lies inside it.
        /// A range that only partly overlaps means the summaries are corrupt.
        @usableFromInline mutating func found(_ page: UInt, _ count: UInt) {
            let last = page + count - 1
            if base <= page && last <= bound {
                base = page
                bound = last
            } else if !(last < base || page > bound) {
                FatalMessage("PageAlloc: find: range of pages [").hex(page).text(", +").decimal(count)
                    .text(") partially overlaps the first-free window [").hex(base).text(", ").hex(bound)
                    .text("]").crash()
            }
        }
    }

    /// Finds the lowest-addressed run of `n` free pages. Returns its first page
    /// and a new search hint (a page below which every page is in use), or nil
    /// when no run fits. Reads only summaries of grown space, and only the
    /// root level beyond it.
    @usableFromInline
    func find(_ n: UInt) -> (page: UInt, searchPage: UInt)? {
        if searchPage >= totalPages || endChunk == 0 { return nil }
        var firstFree = FirstFree(base: 0, bound: totalPages - 1)
        // The index, in the current level, of the first entry of the block searched.
        var i = 0
        for level in 0..<summaryLevelCount {
            let logMax = SummaryLevels.logPages(level)
            let entriesPerBlock = level == 0 ? summaries.entries(0) : 8
            if level > 0 { i <<= Int(summaryLevelBits) }
            // Start at the search hint's entry when the hint lies in this block:
            // everything before it is in use.
            var j = 0
            let hinted = Int(searchPage >> logMax)
            if hinted & ~(entriesPerBlock - 1) == i { j = hinted & (entriesPerBlock - 1) }
            // At the root, entries past the highest grown chunk are all zero.
            let jEnd = level == 0 ? Int((endChunk - 1) >> SummaryLevels.chunkShift(0)) + 1 : entriesPerBlock

            // The run being built across entries: its first page relative to
            // the block, and its length so far.
            var base: UInt = 0, size: UInt = 0
            var descend = false
            while j < jEnd {
                let sum = summaries[level, i + j]
                if sum.raw == 0 {
                    size = 0
                    j += 1
                    continue
                }
                firstFree.found(UInt(i + j) << logMax, 1 << logMax)
                let s = sum.start
                if size + s >= n {
                    if size == 0 { base = UInt(j) << logMax }
                    size += s
                    break
                }
                if sum.max >= n {
                    // The run lies inside this entry: search its children.
                    i += j
                    descend = true
                    break
                }
                if size == 0 || s < 1 << logMax {
                    // Start a new run from this entry's free end.
                    size = sum.end
                    base = UInt(j + 1) << logMax - size
                } else {
                    // Wholly free: the run continues.
                    size += 1 << logMax
                }
                j += 1
            }
            if descend { continue }
            if size >= n {
                return ((UInt(i) << logMax) + base, firstFree.base)
            }
            if level == 0 { return nil }
            badSummary(level: level - 1, index: i >> 3, n: n)
        }
        // i is now a chunk index whose summary promised a fit.
        let ci = UInt(i)
        let r = chunks.alloc(ci).find(n, from: 0)
        guard let j = r.index else { badSummary(level: summaryLevelCount - 1, index: i, n: n) }
        let hint = ci << chunkPagesLog + r.firstFree
        firstFree.found(hint, (ci + 1) << chunkPagesLog - hint)
        return (ci << chunkPagesLog + j, firstFree.base)
    }
}
