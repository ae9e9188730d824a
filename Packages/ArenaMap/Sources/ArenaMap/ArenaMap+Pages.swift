import Platform
import Synchronization

extension ArenaMap {
    /// The arena of `address`, which the caller asserts is mapped; crashes with the
    /// address and `what` otherwise.
    @inlinable func _mappedArena(_ address: UInt, _ what: StaticString) -> HeapArena {
        guard let arena = arenaOf(address) else {
            FatalMessage("ArenaMap: ").text(what).text(" of unmapped address ").hex(address).crash()
        }
        return arena
    }

    @inlinable func _checkPageAligned(_ address: UInt, _ what: StaticString) {
        if _slowPath(address & UInt(pageSize - 1) != 0) {
            FatalMessage("ArenaMap: ").text(what).text(" of ").hex(address)
                .text(", not aligned to the page size ").decimal(pageSize).crash()
        }
    }

    @inlinable func _page(_ address: UInt) -> Int {
        Int((address & UInt(ArenaLayout.heapArenaBytes - 1)) &>> _pageShift)
    }

    // MARK: Span map (the pages' owner)

    /// Records `span` (nil: none) for the `pages` pages from `base`, which may cross
    /// arenas — Go's `mheap.setSpans`. The caller owns those pages exclusively
    /// (it holds the page allocator's lock, or it was just given them by the page allocator,
    /// as Go's `allocSpan` publishes a span after dropping the lock). Each entry is stored with release
    /// ordering, so a lock-free ``spanOf(_:)`` that sees `span` also sees everything
    /// the heap wrote into it before this call.
    ///
    /// Crashes when `base` is not page-aligned or a page is not in a mapped arena.
    @inlinable
    public func setSpan(base: UInt, pages: Int, span: UnsafeMutableRawPointer?) {
        _checkPageAligned(base, "setSpan")
        if _slowPath(pages <= 0) {
            FatalMessage("ArenaMap: setSpan of ").decimal(pages).text(" pages at ").hex(base).crash()
        }
        let value = UInt(bitPattern: span)
        var address = base
        var left = pages
        while left > 0 {
            let arena = _mappedArena(address, "setSpan")
            let first = _page(address)
            let n = Swift.min(left, pagesPerArena - first)
            let spans = arena._spans
            for page in first..<first + n { spans[page].store(value, ordering: .releasing) }
            left -= n
            address &+= UInt(n) << UInt(_pageShift)
        }
    }

    // MARK: pageInUse (the span's owner)

    /// Sets the `pageInUse` bit of `spanBase`, the first page of a span that just
    /// became in use, by the thread that owns the span's pages (as for
    /// ``setSpan(base:pages:span:)``). The bit is written atomically: neighbouring
    /// spans' owners share its word, and readers take no lock. Crashes if the bit was already set: two
    /// in-use spans cannot start on one page.
    @inlinable
    public func setPageInUse(_ spanBase: UInt) {
        _checkPageAligned(spanBase, "setPageInUse")
        let arena = _mappedArena(spanBase, "setPageInUse")
        let page = _page(spanBase)
        let mask = BitIndex.mask(page)
        let old = arena._pageInUse[BitIndex.word(page)].bitwiseOr(mask, ordering: .relaxed).oldValue
        if _slowPath(old & mask != 0) {
            FatalMessage("ArenaMap: setPageInUse of ").hex(spanBase).text(", already in use").crash()
        }
    }

    /// Clears the `pageInUse` bit of `spanBase` when its span stops being in use,
    /// by the thread freeing the span, before its pages go back to the page
    /// allocator. Crashes if the bit was clear.
    @inlinable
    public func clearPageInUse(_ spanBase: UInt) {
        _checkPageAligned(spanBase, "clearPageInUse")
        let arena = _mappedArena(spanBase, "clearPageInUse")
        let page = _page(spanBase)
        let mask = BitIndex.mask(page)
        let old = arena._pageInUse[BitIndex.word(page)].bitwiseAnd(~mask, ordering: .relaxed).oldValue
        if _slowPath(old & mask == 0) {
            FatalMessage("ArenaMap: clearPageInUse of ").hex(spanBase).text(", not in use").crash()
        }
    }

    /// Whether `address`'s page is the first page of an in-use span; false when
    /// unmapped. Lock-free.
    @inlinable public func isPageInUse(_ address: UInt) -> Bool {
        guard let (arena, word, mask) = pageIndexOf(address) else { return false }
        return arena.pageInUseWord(word) & mask != 0
    }

    // MARK: pageMarks (any thread)

    /// Atomically marks `address`'s page in `pageMarks` (a marker found an object in
    /// the span starting there); returns whether it was newly marked. Lock-free;
    /// any number of threads may mark at once. Crashes when `address` is unmapped.
    @inlinable @discardableResult
    public func setPageMark(_ address: UInt) -> Bool {
        guard let (arena, word, mask) = pageIndexOf(address) else {
            FatalMessage("ArenaMap: setPageMark of unmapped address ").hex(address).crash()
        }
        return arena.setPageMark(word: word, mask: mask)
    }

    /// Whether `address`'s page is marked; false when unmapped. Lock-free.
    @inlinable public func isPageMarked(_ address: UInt) -> Bool {
        guard let (arena, word, mask) = pageIndexOf(address) else { return false }
        return arena.pageMarksWord(word) & mask != 0
    }

    /// Clears `pageMarks` in every arena, before a marking cycle starts. No marker
    /// may run and one thread at a time may call it (the collected heap's cycle
    /// lock, with the world stopped).
    public func clearPageMarks() {
        for i in 0..<arenaCount { arena(at: i).clearPageMarks() }
    }

    // MARK: zeroedBase (the pages' owner)

    /// Whether the `bytes` from `base` (page-aligned, possibly crossing arenas) may
    /// hold old data and so must be zeroed before a zeroed allocation, and records
    /// that they are now used — Go's `mheap.allocNeedsZero`. Lock-free: callers
    /// need only own the pages exclusively (the pages' owner: the page allocator's lock, or a per-thread page cache).
    ///
    /// Per arena, memory at or above `zeroedBase` has never been handed out and is
    /// still zero as the kernel mapped it: a range entirely there needs no zeroing.
    /// Any part below `zeroedBase` has been used before, so the range needs zeroing.
    /// Either way `zeroedBase` rises to the end of the range in that arena. (A range
    /// that starts above `zeroedBase` leaves a gap that later counts as used: the
    /// answer is conservative, never wrong.)
    @inlinable
    public func allocNeedsZero(base: UInt, bytes: Int) -> Bool {
        _checkPageAligned(base, "allocNeedsZero")
        if _slowPath(bytes <= 0 || bytes & (pageSize - 1) != 0) {
            FatalMessage("ArenaMap: allocNeedsZero of ").decimal(bytes).text(" bytes at ").hex(base).crash()
        }
        var needZero = false
        var address = base
        var left = bytes
        while left > 0 {
            let arena = _mappedArena(address, "allocNeedsZero")
            let offset = Int(address & UInt(ArenaLayout.heapArenaBytes - 1))
            let limit = Swift.min(offset + left, ArenaLayout.heapArenaBytes)
            let zeroed = arena._zeroedBase
            var zeroedBase = Int(zeroed.pointee.load(ordering: .relaxed))
            if offset < zeroedBase { needZero = true }
            // Raise zeroedBase to the end of the range; another thread may raise it
            // concurrently for pages of its own (Go's CAS loop).
            while limit > zeroedBase {
                let (exchanged, current) = zeroed.pointee.compareExchange(
                    expected: UInt(zeroedBase), desired: UInt(limit), ordering: .relaxed)
                if exchanged { break }
                zeroedBase = Int(current)
                if _slowPath(zeroedBase <= limit && zeroedBase > offset) {
                    FatalMessage("ArenaMap: allocNeedsZero(base: ").hex(base).text(", bytes: ").decimal(bytes)
                        .text("): potentially overlapping in-use allocations (zeroedBase ").decimal(zeroedBase)
                        .text(")").crash()
                }
            }
            left -= limit - offset
            address &+= UInt(limit - offset)
        }
        return needZero
    }
}
