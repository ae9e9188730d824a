import ArenaMap
import GCBits
import Glibc
@_spi(NUMAHeapInternals) import NUMAHeap
import Platform
import SpanCore
import Synchronization

/// What a sweep did.
public struct SweepResult: Equatable, Sendable {
    /// Spans swept (each at most once per cycle).
    public var sweptSpans = 0
    /// Objects found unmarked and freed, and their bytes (size-class sizes).
    public var freedObjects = 0
    public var freedBytes = 0
    /// Spans that held no live object and went back to the page heap.
    public var freedSpans = 0
    /// Pages freed whole by the page reclaimer (`reclaim(pages:)`), included in `freedSpans`.
    public var reclaimedPages = 0
    /// Objects found unmarked with a finalizer: kept alive for this cycle, their finalizer queued.
    public var finalizersQueued = 0
    /// Finalizers run by this call.
    public var finalizersRun = 0

    public init() {}
}

// Sweep generations (Go's mspan.sweepgen against mheap_.sweepgen = h, which
// advances by 2 at each `beginCycle`; written here in our own words):
//
//   span.sweepgen == h - 2   the span still needs sweeping for this cycle: its
//                            mark bits are the marks of the cycle just ended;
//   span.sweepgen == h - 1   a sweeper claimed it (CAS from h - 2) and is sweeping it now;
//   span.sweepgen == h       swept for this cycle (or created in it) and not cached;
//   span.sweepgen == h + 1   cached for allocation *before* this cycle began, so
//                            it was never swept for it: whoever uncaches it sweeps it;
//   span.sweepgen == h + 3   swept for this cycle, then cached for allocation.
//
// A span goes h-2 → h-1 only by compare-and-swap, under its class lock, so at
// most one sweeper claims it; nothing moves it back below h until the next
// `beginCycle`. Hence no span is swept twice in a cycle.

extension CollectedHeap {
    /// Ends the mark phase and starts sweeping (Go's mark termination + `gcSweep`):
    /// advances `sweepgen` by 2, so every span needs sweeping, and resets the
    /// reclaimer. Finishes an unfinished sweep first. Call it with no thread
    /// marking or allocating (the runtime's stop-the-world point); the sweep
    /// that follows runs concurrently with allocation.
    public func beginCycle() {
        cycleLock.lock()
        if !globals.pointee.sweepDone.load(ordering: .relaxed) { _ = finishSweepLocked() }
        let g = globals
        let h = g.pointee.sweepgen.load(ordering: .relaxed) &+ 2
        g.pointee.reclaimIndex.store(0, ordering: .relaxed)
        g.pointee.reclaimCredit.store(0, ordering: .relaxed)
        g.pointee.cycleSweptSpans.store(0, ordering: .relaxed)
        g.pointee.cycleFreedSpans.store(0, ordering: .relaxed)
        g.pointee.cycleFreedObjects.store(0, ordering: .relaxed)
        g.pointee.cycleFreedBytes.store(0, ordering: .relaxed)
        g.pointee.cycleReclaimedPages.store(0, ordering: .relaxed)
        g.pointee.cycleFinalizersQueued.store(0, ordering: .relaxed)
        g.pointee.cycles.add(1, ordering: .relaxed)
        g.pointee.sweepgen.store(h, ordering: .releasing)
        g.pointee.sweepDone.store(false, ordering: .releasing)
        cycleLock.unlock()
    }

    /// A whole collection after marking: ``beginCycle()``, then sweeps every
    /// span, runs the finalizers this found due, and returns what the cycle
    /// freed (including spans swept lazily by allocation or the reclaimer
    /// since ``beginCycle()``). Same threading rule as ``beginCycle()``.
    @discardableResult
    public func sweep() -> SweepResult {
        beginCycle()
        return finishSweep()
    }

    /// Sweeps every span not yet swept in this cycle (Go's `finishsweep_m`),
    /// then starts the next mark bits' epoch (`nextMarkBitArenaEpoch`) and
    /// clears `pageMarks`, and runs queued finalizers. Returns the whole
    /// cycle's totals. Call it with no thread allocating or marking; marking
    /// may start when it returns. Does nothing (but run finalizers) when the
    /// sweep is already finished.
    @discardableResult
    public func finishSweep() -> SweepResult {
        cycleLock.lock()
        _ = finishSweepLocked()
        var r = cycleResult()
        cycleLock.unlock()
        r.finalizersRun = runFinalizers()
        return r
    }

    func cycleResult() -> SweepResult {
        let g = globals
        var r = SweepResult()
        r.sweptSpans = g.pointee.cycleSweptSpans.load(ordering: .relaxed)
        r.freedObjects = g.pointee.cycleFreedObjects.load(ordering: .relaxed)
        r.freedBytes = g.pointee.cycleFreedBytes.load(ordering: .relaxed)
        r.freedSpans = g.pointee.cycleFreedSpans.load(ordering: .relaxed)
        r.reclaimedPages = g.pointee.cycleReclaimedPages.load(ordering: .relaxed)
        r.finalizersQueued = g.pointee.cycleFinalizersQueued.load(ordering: .relaxed)
        return r
    }

    /// Cycle lock held.
    func finishSweepLocked() -> SweepResult {
        var r = SweepResult()
        if !globals.pointee.sweepDone.load(ordering: .relaxed) {
            for ci in 0..<spanClassCount {
                let lock = classLock(ci)
                lock.lock()
                sweepClassLocked(ci, budget: Int.max, result: &r, includeCached: true)
                lock.unlock()
            }
            globals.pointee.sweepDone.store(true, ordering: .releasing)
        }
        let h = sweepgen
        if globals.pointee.epochGen.load(ordering: .relaxed) != h {
            // Every span is swept: no alloc bits are left in the `previous`
            // epoch, and no thread is in newMarkBits (stop-the-world).
            bits.nextMarkBitArenaEpoch()
            state.pointee.arenas.clearPageMarks()
            globals.pointee.epochGen.store(h, ordering: .relaxed)
        }
        return r
    }

    /// Sweeps up to `budget` spans that still need sweeping in this cycle
    /// (Go's background `sweepone` loop), from any thread, concurrently with
    /// allocation and other sweepers; returns what it did. Leaves the end of
    /// the cycle (epoch, `pageMarks`) to ``finishSweep()``.
    @discardableResult
    public func sweep(budget: Int) -> SweepResult {
        var r = SweepResult()
        if globals.pointee.sweepDone.load(ordering: .acquiring) || budget <= 0 { return r }
        let start = globals.pointee.sweepCursor.load(ordering: .relaxed)
        for k in 0..<spanClassCount where r.sweptSpans < budget {
            let ci = (start &+ k) % spanClassCount
            let lock = classLock(ci)
            lock.lock()
            let more = sweepClassLocked(ci, budget: budget - r.sweptSpans, result: &r, includeCached: true)
            lock.unlock()
            if more { globals.pointee.sweepCursor.store(ci, ordering: .relaxed); break }
        }
        return r
    }

    /// Sweeps up to `budget` unswept spans of class `ci` (class lock held),
    /// and its cached span when it went stale. True when the budget ran out
    /// before the class's unswept spans did.
    @discardableResult
    func sweepClassLocked(_ ci: Int, budget: Int, result r: inout SweepResult, includeCached: Bool) -> Bool {
        let h = sweepgen
        var done = 0
        if includeCached, let s = classCurrent[ci], s.pointee.sweepgen.load(ordering: .relaxed) == h &+ 1 {
            classCurrent[ci] = nil
            s.pointee.sweepgen.store(h &- 1, ordering: .relaxed)
            sweepLocked(s, classIndex: ci, result: &r)
            done += 1
        }
        for pass in 0..<2 {
            let list = classLists + gcListIndex(classIndex: ci, full: pass == 1, swept: false, sweepgen: h)
            while done < budget, let s = list.pointee.popFirst() {
                guard s.pointee.sweepgen.compareExchange(expected: h &- 2, desired: h &- 1,
                                                         ordering: .acquiringAndReleasing).exchanged else {
                    CollectedHeap.badSweepgen(s, h)
                }
                sweepLocked(s, classIndex: ci, result: &r)
                done += 1
            }
            if done >= budget { return !list.pointee.isEmpty || pass == 0 }
        }
        return false
    }

    /// ``sweepLocked(_:classIndex:result:reinsert:)`` for callers that only need to know whether the span was freed.
    @discardableResult
    func sweepLockedQuiet(_ s: SpanRef, classIndex ci: Int, reinsert: Bool = true) -> Bool {
        var r = SweepResult()
        return sweepLocked(s, classIndex: ci, result: &r, reinsert: reinsert)
    }

    /// Sweeps span `s` (Go's `mspan.sweep`): class lock held, `s` claimed
    /// (sweepgen h − 1) and on no list. Queues finalizers of unmarked objects
    /// (keeping those objects alive), frees every other unmarked object, makes
    /// the mark bits the alloc bits and takes fresh mark bits; then frees the
    /// span if nothing in it is live, or — when `reinsert` — puts it on the
    /// class's swept partial or full list. Sets sweepgen h. True when the span was freed.
    @discardableResult
    func sweepLocked(_ s: SpanRef, classIndex ci: Int, result r: inout SweepResult, reinsert: Bool = true) -> Bool {
        let g = globals
        let h = sweepgen
        let info = CollectedHeap.info(s).unsafelyUnwrapped
        let marks = info.marks
        let allocs = info.allocs
        let nelems = s.pointee.nelems
        let elemSize = s.pointee.elemSize
        let start = s.pointee.startAddress
        let handedOut = s.pointee.freeindex.load(ordering: .relaxed)

        // Specials first: an unmarked object with a finalizer is resurrected
        // (marked) for this cycle and its finalizer queued (Go's sweep, pass 1).
        var queued = 0
        if info.pointee.specials.load(ordering: .relaxed) != 0 {
            info.lockSpecials()
            var prev: UnsafeMutablePointer<GCSpecial>? = nil
            var cur = UnsafeMutablePointer<GCSpecial>(bitPattern: info.pointee.specials.load(ordering: .relaxed))
            while let sp = cur {
                let next = sp.pointee.next
                let index = sp.pointee.offset / elemSize
                if !marks.testAtomic(index) {
                    if let prev { prev.pointee.next = next } else {
                        info.pointee.specials.store(UInt(bitPattern: next), ordering: .relaxed)
                    }
                    marks.setAtomic(index)
                    sp.pointee.object = start &+ UInt(sp.pointee.offset)
                    enqueueFinalizer(sp)
                    queued += 1
                } else {
                    prev = sp
                }
                cur = next
            }
            info.unlockSpecials()
        }

        var live = 0
        var freed = 0
        for w in 0..<BitIndex.words(nelems) {
            let handedMask = BitIndex.mask(below: handedOut, inWord: w)
            let allocated = allocs.atomicLoadWord(index: w) | handedMask
            let m = marks.atomicLoadWord(index: w)
            let keep = m & allocated
            if _slowPath(keep != m) { _ = marks.atomicExchangeWord(index: w, with: keep) }
            live &+= keep.nonzeroBitCount
            freed &+= (allocated & ~m).nonzeroBitCount
        }
        let fresh: GCBits
        do { fresh = try bits.newMarkBits(nelems) } catch {
            FatalMessage("CollectedHeap: cannot map mark bits for a span of ").decimal(nelems).text(" objects").crash()
        }
        // gcmarkBits → allocBits, fresh mark bits; then restart allocation at 0
        // (freeindex last, with release: see Span's "Memory ordering").
        info.pointee.allocBits.store(UInt(bitPattern: marks.base), ordering: .releasing)
        info.pointee.markBits.store(UInt(bitPattern: fresh.base), ordering: .releasing)
        if freed != 0 { s.pointee.needzero.store(true, ordering: .relaxed) }
        s.pointee.allocCount.store(live, ordering: .relaxed)
        s.pointee.allocCache.store(~marks.atomicLoadWord(index: 0), ordering: .relaxed)
        s.pointee.freeindex.store(0, ordering: .releasing)

        (classCounters + ci).pointee.liveObjects &-= freed
        (classCounters + ci).pointee.liveBytes &-= freed &* elemSize
        r.sweptSpans += 1
        r.freedObjects += freed
        r.freedBytes += freed * elemSize
        r.finalizersQueued += queued
        g.pointee.sweptSpans.add(1, ordering: .relaxed)
        g.pointee.cycleSweptSpans.add(1, ordering: .relaxed)
        if freed != 0 {
            g.pointee.freedObjects.add(freed, ordering: .relaxed)
            g.pointee.cycleFreedObjects.add(freed, ordering: .relaxed)
            g.pointee.freedBytes.add(freed * elemSize, ordering: .relaxed)
            g.pointee.cycleFreedBytes.add(freed * elemSize, ordering: .relaxed)
        }
        if queued != 0 {
            g.pointee.finalizersQueued.add(queued, ordering: .relaxed)
            g.pointee.cycleFinalizersQueued.add(queued, ordering: .relaxed)
        }

        if live == 0 {
            // Nothing live (and so no specials left): back to the page heap.
            r.freedSpans += 1
            g.pointee.freedSpans.add(1, ordering: .relaxed)
            g.pointee.cycleFreedSpans.add(1, ordering: .relaxed)
            (classCounters + ci).pointee.spans &-= 1
            s.pointee.sweepgen.store(h, ordering: .releasing)
            pages.core.freeSpan(s, node: 0)
            freeInfo(info)
            return true
        }
        s.pointee.sweepgen.store(h, ordering: .releasing)
        if reinsert {
            let full = live == nelems
            classLists[gcListIndex(classIndex: ci, full: full, swept: true, sweepgen: h)].insert(s)
        }
        return false
    }

    // MARK: The page reclaimer

    /// Frees at least `pages` pages of whole spans with no marked object, if
    /// that many can be found, before the heap grows (Go's `mheap.reclaim`):
    /// spends reclaim credit first, then scans `pageInUse &^ pageMarks` of
    /// 512-page chunks (Go's `reclaimChunk`), claiming each chunk once per
    /// cycle with an atomic index, and sweeping every unswept span that starts
    /// there with no page mark. Pages freed beyond `pages` become credit for
    /// the next caller. Returns the pages freed for this call (credit
    /// included). Does nothing once the sweep is finished. Any thread, no
    /// class lock held.
    @discardableResult
    public func reclaim(pages: Int) -> Int {
        let g = globals
        guard pages > 0, !g.pointee.sweepDone.load(ordering: .acquiring) else { return 0 }
        var need = pages
        var got = 0
        // Spend credit.
        var credit = g.pointee.reclaimCredit.load(ordering: .relaxed)
        while credit > 0 {
            let take = min(credit, need)
            let (ok, now) = g.pointee.reclaimCredit.compareExchange(expected: credit, desired: credit - take,
                                                                       ordering: .relaxed)
            if ok { need -= take; got += take; break }
            credit = now
        }
        let pagesPerChunk = ArenaLayout.pagesPerReclaimerChunk
        let chunksPerArena = state.pointee.arenas.pagesPerArena / pagesPerChunk
        while need > 0 {
            let idx = g.pointee.reclaimIndex.add(1, ordering: .relaxed).oldValue
            let arenaIndex = idx / chunksPerArena
            if arenaIndex >= state.pointee.arenas.arenaCount { break }
            let freed = reclaimChunk(arena: state.pointee.arenas.arena(at: arenaIndex), chunk: idx % chunksPerArena)
            need -= freed
            got += freed
        }
        if need < 0 {
            g.pointee.reclaimCredit.add(-need, ordering: .relaxed)
            got += need
        }
        return got
    }

    /// Sweeps the unmarked in-use spans starting in one chunk; returns the pages freed.
    func reclaimChunk(arena: HeapArena, chunk: Int) -> Int {
        let pageSize = SizeClasses.pageSize
        var freedPages = 0
        arena.forEachInUseUnmarkedSpan(inChunk: chunk) { page, raw in
            guard let raw else { return }
            let s = raw.assumingMemoryBound(to: Span.self)
            let h = sweepgen
            // Cheap checks first, racy but on atomics: only unswept spans.
            guard s.pointee.state.load(ordering: .acquiring) == SpanState.inUse.rawValue,
                  s.pointee.sweepgen.load(ordering: .acquiring) == h &- 2 else { return }
            let ci = s.pointee.spanClass.index
            if ci >= spanClassCount { return }
            let lock = classLock(ci)
            lock.lock()
            defer { lock.unlock() }
            // Under the class lock an unswept span of this class is on one of its
            // unswept lists and cannot change (see sweepgen states).
            guard s.pointee.state.load(ordering: .acquiring) == SpanState.inUse.rawValue,
                  s.pointee.sweepgen.load(ordering: .acquiring) == h &- 2,
                  s.pointee.spanClass.index == ci,
                  s.pointee.startAddress == arena.base &+ UInt(page &* pageSize) else { return }
            let partial = classLists + gcListIndex(classIndex: ci, full: false, swept: false, sweepgen: h)
            let full = classLists + gcListIndex(classIndex: ci, full: true, swept: false, sweepgen: h)
            if partial.pointee.contains(s) { partial.pointee.remove(s) } else if full.pointee.contains(s) {
                full.pointee.remove(s)
            } else { return }
            guard s.pointee.sweepgen.compareExchange(expected: h &- 2, desired: h &- 1,
                                                     ordering: .acquiringAndReleasing).exchanged else {
                CollectedHeap.badSweepgen(s, h)
            }
            let npages = s.pointee.pageCount
            var r = SweepResult()
            sweepLocked(s, classIndex: ci, result: &r)
            if r.freedSpans != 0 {
                freedPages += npages
                globals.pointee.reclaimedPages.add(npages, ordering: .relaxed)
                globals.pointee.cycleReclaimedPages.add(npages, ordering: .relaxed)
            }
        }
        return freedPages
    }
}
