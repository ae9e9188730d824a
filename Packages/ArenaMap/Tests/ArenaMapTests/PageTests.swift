import ArenaMap
import Dispatch
import Platform
import Testing

@Suite struct SpanMapTests {
    @Test func setSpanCrossesArenaBoundariesAndClears() throws {
        let map = try ArenaMap(space: FakeAddressSpace())
        let a = try map.reserveArenas(bytes: 3 * arenaBytes, node: 0).get()
        let page = UInt(map.pageSize)
        // 10 pages before the first boundary through a whole middle arena to 5 pages past the second.
        let start = a + UInt(arenaBytes) - 10 * page
        let pages = 10 + map.pagesPerArena + 5
        map.setSpan(base: start, pages: pages, span: fakeSpan(1))
        #expect(map.spanOf(start - 1) == nil)
        for i in 0..<pages { #expect(map.spanOf(start + UInt(i) * page) == fakeSpan(1)) }
        #expect(map.spanOf(start + UInt(pages) * page) == nil)
        // Split it: the last 5 pages become another span, then clear the first 10.
        map.setSpan(base: start + UInt(pages - 5) * page, pages: 5, span: fakeSpan(2))
        map.setSpan(base: start, pages: 10, span: nil)
        #expect(map.spanOf(start) == nil && map.spanOf(a + UInt(arenaBytes) - 1) == nil)
        #expect(map.spanOf(a + UInt(arenaBytes)) == fakeSpan(1))
        #expect(map.spanOf(a + UInt(2 * arenaBytes) - 1) == fakeSpan(1))
        #expect(map.spanOf(a + UInt(2 * arenaBytes)) == fakeSpan(2))
        #expect(map.spanOf(a + UInt(2 * arenaBytes) + 5 * page - 1) == fakeSpan(2))
        #expect(map.spanOf(a + UInt(2 * arenaBytes) + 5 * page) == nil)
    }
}

@Suite struct PageBitsTests {
    @Test func pageInUseIsSetAndClearedForFirstPages() throws {
        let map = try ArenaMap(space: FakeAddressSpace())
        let a = try map.reserveArenas(bytes: 2 * arenaBytes, node: 0).get()
        let page = UInt(map.pageSize)
        let firsts: [UInt] = [a, a + 63 * page, a + 64 * page, a + UInt(arenaBytes) - page, a + UInt(arenaBytes)]
        for p in firsts { map.setPageInUse(p) }
        for p in firsts { #expect(map.isPageInUse(p) == true && map.isPageInUse(p + page - 1) == true) }
        #expect(map.isPageInUse(a + page) == false)
        let arena = map.arena(at: 0)
        #expect(arena.pageInUseWord(0) == UInt64(1) << 63 | 1)
        #expect(arena.pageInUseWord(1) == 1)
        #expect(arena.pageInUseWord(arena.bitmapWords - 1) == UInt64(1) << 63)
        #expect(map.arena(at: 1).pageInUseWord(0) == 1)
        map.clearPageInUse(a + 63 * page)
        #expect(arena.pageInUseWord(0) == 1)
        #expect(map.isPageInUse(a + 63 * page) == false)
    }

    @Test func pageMarksAndTheReclaimerView() throws {
        let map = try ArenaMap(space: FakeAddressSpace())
        let a = try map.reserveArenas(bytes: arenaBytes, node: 0).get()
        let page = UInt(map.pageSize)
        // Spans start at pages 0, 5, 130 (chunk 0) and 600 (chunk 1).
        for (n, p) in [0, 5, 130, 600].enumerated() {
            map.setSpan(base: a + UInt(p) * page, pages: 1, span: fakeSpan(n))
            map.setPageInUse(a + UInt(p) * page)
        }
        #expect(map.setPageMark(a + 5 * page + 17) == true)
        #expect(map.setPageMark(a + 5 * page) == false)
        #expect(map.isPageMarked(a + 5 * page) && map.isPageMarked(a) == false)
        let arena = map.arena(at: 0)
        #expect(arena.inUseUnmarkedWord(0) == 1)
        var seen: [Int] = []
        arena.forEachInUseUnmarkedSpan(inChunk: 0) { p, s in
            seen.append(p)
            #expect(s == map.spanOf(a + UInt(p) * page))
        }
        #expect(seen == [0, 130])
        seen = []
        arena.forEachInUseUnmarkedSpan(inChunk: 1) { p, _ in seen.append(p) }
        #expect(seen == [600])
        seen = []
        arena.forEachInUseUnmarkedSpan(inChunk: map.pagesPerArena / 512 - 1) { p, _ in seen.append(p) }
        #expect(seen.isEmpty)
        map.clearPageMarks()
        #expect(map.isPageMarked(a + 5 * page) == false)
        #expect(arena.inUseUnmarkedWord(0) == 1 | 1 << 5)
    }

    @Test func concurrentMarkersSetEveryBitExactlyOnce() throws {
        let map = try ArenaMap(space: FakeAddressSpace())
        let a = try map.reserveArenas(bytes: arenaBytes, node: 0).get()
        let arena = map.arena(at: 0)
        let pages = arena.pageCount
        let threads = 8
        let newly = UnsafeMutablePointer<Int>.allocate(capacity: threads)
        defer { newly.deallocate() }
        newly.initialize(repeating: 0, count: threads)
        let counts = UInt(bitPattern: newly)
        DispatchQueue.concurrentPerform(iterations: threads) { t in
            let out = UnsafeMutablePointer<Int>(bitPattern: counts)!
            var n = 0
            // Each thread walks every page, from a different start, so they collide on words.
            for i in 0..<pages {
                let page = (i + t * 977) % pages
                if arena.setPageMark(word: page >> 6, mask: 1 << UInt64(page & 63)) { n += 1 }
            }
            out[t] = n
        }
        #expect((0..<threads).reduce(0) { $0 + newly[$1] } == pages)
        for w in 0..<arena.bitmapWords { #expect(arena.pageMarksWord(w) == UInt64.max) }
        #expect(map.isPageMarked(a + UInt(arenaBytes) - 1) == true)
    }
}

@Suite struct ZeroingTests {
    @Test func allocNeedsZeroTable() throws {
        let map = try ArenaMap(space: FakeAddressSpace())
        let a = try map.reserveArenas(bytes: 2 * arenaBytes, node: 0).get()
        let p = UInt(map.pageSize)
        let second = map.arena(at: 1)
        let first = map.arena(at: 0)
        #expect(first.zeroedBase == 0)
        // Fresh, from the arena's start: no zeroing, zeroedBase advances.
        #expect(map.allocNeedsZero(base: a, bytes: 4 * Int(p)) == false)
        #expect(first.zeroedBase == 4 * Int(p))
        // Fresh, exactly at zeroedBase.
        #expect(map.allocNeedsZero(base: a + 4 * p, bytes: Int(p)) == false)
        #expect(first.zeroedBase == 5 * Int(p))
        // Reused (freed and reallocated): needs zeroing, zeroedBase unchanged.
        #expect(map.allocNeedsZero(base: a + p, bytes: 2 * Int(p)) == true)
        #expect(first.zeroedBase == 5 * Int(p))
        // Partly reused, partly fresh: needs zeroing, zeroedBase moves to its end.
        #expect(map.allocNeedsZero(base: a + 3 * p, bytes: 4 * Int(p)) == true)
        #expect(first.zeroedBase == 7 * Int(p))
        // Fresh but beyond zeroedBase (a gap): no zeroing; the gap now counts as used.
        #expect(map.allocNeedsZero(base: a + 10 * p, bytes: Int(p)) == false)
        #expect(first.zeroedBase == 11 * Int(p))
        #expect(map.allocNeedsZero(base: a + 8 * p, bytes: Int(p)) == true)
        // Crossing into the next arena, fresh on both sides.
        let nearEnd = a + UInt(arenaBytes) - 2 * p
        #expect(map.allocNeedsZero(base: nearEnd, bytes: 4 * Int(p)) == false)
        #expect(first.zeroedBase == arenaBytes)
        #expect(second.zeroedBase == 2 * Int(p))
        // Crossing again: the first arena's part is reused, so the whole range needs zeroing.
        #expect(map.allocNeedsZero(base: nearEnd + p, bytes: 3 * Int(p)) == true)
        #expect(second.zeroedBase == 2 * Int(p))
        // Reused only on the second arena's side.
        #expect(map.allocNeedsZero(base: a + UInt(arenaBytes) + p, bytes: 4 * Int(p)) == true)
        #expect(second.zeroedBase == 5 * Int(p))
    }
}

@Suite struct GrowTests {
    @Test func growCommitsOnDemandAndExtendsContiguously() throws {
        let fake = FakeAddressSpace()
        let map = try ArenaMap(space: fake)
        var cursor = ArenaCursor()
        let g1 = try map.grow(&cursor, bytes: 4 * MiB, node: 1).get()
        #expect(g1 == ArenaGrowth(base: firstHint, bytes: 4 * MiB, leftoverBase: 0, leftoverBytes: 0))
        #expect(fake.calls.last == .commit(firstHint, bytes: 4 * MiB))
        #expect(cursor.remaining == arenaBytes - 4 * MiB)
        let g2 = try map.grow(&cursor, bytes: 8 * MiB, node: 1).get()
        #expect(g2.base == firstHint + UInt(4 * MiB) && g2.leftoverBytes == 0)
        #expect(map.arenaCount == 1)
        // Needs more than remains: the next arena is contiguous, the cursor extends.
        let g3 = try map.grow(&cursor, bytes: 60 * MiB, node: 1).get()
        #expect(g3.base == firstHint + UInt(12 * MiB) && g3.leftoverBytes == 0)
        #expect(map.arenaCount == 2 && map.nodeOf(firstHint + UInt(arenaBytes)) == 1)
        #expect(cursor.base == firstHint + UInt(72 * MiB) && cursor.end == firstHint + UInt(2 * arenaBytes))
        // A taken range forces a jump: the rest of the old space comes back as leftover.
        fake.occupy(cursor.end..<cursor.end + 4096)
        let left = cursor.remaining
        let oldBase = cursor.base
        let g4 = try map.grow(&cursor, bytes: 64 * MiB, node: 1).get()
        #expect(g4.leftoverBase == oldBase && g4.leftoverBytes == left)
        #expect(fake.calls.contains(.commit(oldBase, bytes: left)))
        #expect(g4.base % UInt(arenaBytes) == 0 && g4.base != oldBase + UInt(left))
        #expect(cursor.remaining == 0)
    }

    @Test func growReportsCommitFailure() throws {
        let fake = FakeAddressSpace()
        let map = try ArenaMap(space: fake)
        var cursor = ArenaCursor()
        fake.commitError = FakeAddressSpace.ENOMEM
        let r = map.grow(&cursor, bytes: MiB, node: 0)
        guard case .failure(.commitFailed(let e)) = r else { Issue.record("got \(r)"); return }
        #expect(e.code == FakeAddressSpace.ENOMEM)
        // The arena stays registered and the cursor still covers it: a retry commits it.
        fake.commitError = nil
        #expect(map.grow(&cursor, bytes: MiB, node: 0).value?.base == firstHint)
        #expect(map.arenaCount == 1)
    }
}
