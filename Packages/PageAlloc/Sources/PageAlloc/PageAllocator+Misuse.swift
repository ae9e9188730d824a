// PageAllocator+Misuse: argument checks and the reports of misuse and broken
// invariants. Every one goes through FatalMessage (no allocation, a message in
// every build configuration) and names the values that broke it. These are the
// slow paths; nothing here is inlined into callers.
import Platform

extension PageAllocator {
    @usableFromInline @inline(never)
    func misuseAllocate(_ pages: Int) -> Never {
        FatalMessage("PageAlloc: allocate(pages: ").decimal(pages).text("): the page count must be positive").crash()
    }

    @inline(never)
    func misuseGrow(_ base: UInt, _ bytes: Int, _ reason: StaticString) -> Never {
        FatalMessage("PageAlloc: grow(base: ").hex(base).text(", bytes: ").decimal(bytes)
            .text(reason).hex(UInt(chunkSize)).crash()
    }

    /// The message prefix "PageAlloc: op(base: 0x…, pages: n): ".
    @inline(never)
    func report(_ op: StaticString, _ base: UInt, _ pages: Int) -> FatalMessage {
        FatalMessage("PageAlloc: ").text(op).text("(base: ").hex(base).text(", pages: ").decimal(pages).text("): ")
    }

    /// Checks that `[base, base + pages × pageSize)` is a positive, page-aligned
    /// range inside the grown space; returns its first page number.
    @inline(never)
    func checkedGrownRange(_ op: StaticString, _ base: UInt, _ pages: Int) -> UInt {
        if pages <= 0 { report(op, base, pages).text("the page count must be positive").crash() }
        if base & UInt(pageSize - 1) != 0 {
            report(op, base, pages).text("base is not aligned to the page size ").decimal(pageSize).crash()
        }
        let page = base >> pageShift
        if UInt(pages) > totalPages || page + UInt(pages) > totalPages || !grown.contains(page, page + UInt(pages)) {
            var m = report(op, base, pages).text("the range [").hex(base).text(", ")
            m = UInt(pages) > totalPages ? m.text("beyond 2^48") : m.hex(base &+ UInt(pages) << pageShift)
            m = m.text(") is outside the grown space (")
            if grown.count == 0 {
                m = m.text("nothing grown)")
            } else {
                let i = grown.firstEnding(after: page)
                m = m.decimal(grown.count).text(" grown ranges from ").hex(grown.lo(0) << pageShift)
                    .text(" to ").hex(grown.hi(grown.count - 1) << pageShift)
                if i < grown.count {
                    m = m.text("; nearest [").hex(grown.lo(i) << pageShift).text(", ").hex(grown.hi(i) << pageShift).text(")")
                }
                m = m.text(")")
            }
            m.crash()
        }
        return page
    }

    /// Validates a free: the range is grown and every page of it is in use.
    @usableFromInline @inline(never)
    func checkedFreeRange(_ base: UInt, _ pages: Int) -> UInt {
        let page = checkedGrownRange("free", base, pages)
        var p = page, left = UInt(pages)
        while left > 0 {
            let ci = p >> chunkPagesLog, i = p & (chunkPages - 1)
            let take = min(chunkPages - i, left)
            if let k = chunks.alloc(ci).firstClear(i, take) {
                report("free", base, pages).text("page ").hex((ci << chunkPagesLog + k) << pageShift)
                    .text(" is not allocated").crash()
            }
            p += take
            left -= take
        }
        return page
    }

    /// Validates markScavenged: the range is grown and every page of it is free.
    @inline(never)
    func checkedFreeGrownRange(_ op: StaticString, _ base: UInt, _ pages: Int) -> UInt {
        let page = checkedGrownRange(op, base, pages)
        var p = page, left = UInt(pages)
        while left > 0 {
            let ci = p >> chunkPagesLog, i = p & (chunkPages - 1)
            let take = min(chunkPages - i, left)
            if let k = chunks.alloc(ci).firstSet(i, take) {
                report(op, base, pages).text("page ").hex((ci << chunkPagesLog + k) << pageShift)
                    .text(" is not free").crash()
            }
            p += take
            left -= take
        }
        return page
    }

    /// The summaries promised a run of `n` pages under `summary[level][index]`
    /// that is not there: the metadata is corrupt (Go's "bad summary data").
    @usableFromInline @inline(never)
    func badSummary(level: Int, index: Int, n: UInt) -> Never {
        let s = summaries[level, index]
        FatalMessage("PageAlloc: bad summary data: summary[").decimal(level).text("][").decimal(index)
            .text("] = (start ").decimal(Int(s.start)).text(", max ").decimal(Int(s.max)).text(", end ")
            .decimal(Int(s.end)).text(") promised ").decimal(Int(n)).text(" free pages; search hint page ")
            .hex(searchPage << pageShift).crash()
    }
}
