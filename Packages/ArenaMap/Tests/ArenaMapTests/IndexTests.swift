import ArenaMap
import Platform
import Testing

@Suite struct IndexTests {
    @Test func everyPageOfSeveralArenasResolves() throws {
        let fake = FakeAddressSpace()
        let map = try ArenaMap(space: fake)
        let a = try map.reserveArenas(bytes: 2 * arenaBytes, node: 0).get()
        fake.occupy(a + UInt(2 * arenaBytes)..<a + UInt(3 * arenaBytes))  // force a gap
        let b = try map.reserveArenas(bytes: arenaBytes, node: 2).get()
        #expect(b != a + UInt(2 * arenaBytes))
        let pages = map.pagesPerArena
        #expect(pages == 8192)
        let bases = [a, a + UInt(arenaBytes), b]
        for (k, base) in bases.enumerated() {
            for page in 0..<pages { map.setSpan(base: base + UInt(page * 8192), pages: 1, span: fakeSpan(k * pages + page)) }
        }
        for (k, base) in bases.enumerated() {
            let found = map.arenaOf(base)
            let arena = try #require(found)
            #expect(arena.base == base)
            #expect(arena.pageCount == pages)
            for page in 0..<pages {
                let p = base + UInt(page * 8192)
                let want = fakeSpan(k * pages + page)
                #expect(map.spanOf(p) == want)
                #expect(map.spanOf(p + 1) == want)
                #expect(map.spanOf(p + 8191) == want)
                #expect(arena.span(atPage: page) == want)
                let index = map.pageIndexOf(p + 4000)
                let (pa, word, mask) = try #require(index)
                #expect(pa == arena && word == page / 64 && mask == 1 << UInt64(page % 64))
            }
        }
        #expect(map.nodeOf(a) == 0 && map.nodeOf(a + UInt(arenaBytes)) == 0 && map.nodeOf(b) == 2)
    }

    @Test func garbageAndUnmappedAddressesAnswerNothing() throws {
        let map = try ArenaMap(space: FakeAddressSpace())
        let a = try map.reserveArenas(bytes: arenaBytes, node: 0).get()
        map.setSpan(base: a, pages: map.pagesPerArena, span: fakeSpan(1))
        let garbage: [UInt] = [
            0, 1, 4096, (1 << 47) - 1, 1 << 47, (1 << 48) - 1, 1 << 48, (1 << 48) + a,
            0xffff_8000_0000_0000, 0xffff_ffff_ffff_f000, UInt.max, UInt.max - UInt(arenaBytes),
            a - 1, a + UInt(arenaBytes), a + UInt(arenaBytes) + 8192, a - UInt(arenaBytes),
            a | (1 << 63),
        ]
        for p in garbage {
            #expect(map.spanOf(p) == nil, "spanOf(\(String(p, radix: 16)))")
            #expect(map.arenaOf(p) == nil)
            #expect(map.pageIndexOf(p) == nil)
            #expect(map.nodeOf(p) == nil)
            #expect(map.isMapped(p) == false)
            #expect(map.isPageInUse(p) == false && map.isPageMarked(p) == false)
            #expect(map.spanOfHeap(p, isInUse: { _, _ in true }) == nil)
        }
        #expect(map.spanOf(a) == fakeSpan(1))
        #expect(map.spanOf(a + UInt(arenaBytes) - 1) == fakeSpan(1))
    }

    @Test func anEmptyMapAnswersNothingAnywhere() throws {
        let map = try ArenaMap(space: FakeAddressSpace())
        var p: UInt = 0
        for _ in 0..<64 {
            #expect(map.spanOf(p) == nil && map.arenaOf(p) == nil)
            p = p &* 3 &+ 0x0123_4567_89ab
        }
        #expect(map.arenaCount == 0)
    }

    @Test func spanOfHeapAsksThePredicate() throws {
        let map = try ArenaMap(space: FakeAddressSpace())
        let a = try map.reserveArenas(bytes: arenaBytes, node: 0).get()
        map.setSpan(base: a, pages: 4, span: fakeSpan(7))
        var asked: [(UnsafeMutableRawPointer, UInt)] = []
        #expect(map.spanOfHeap(a + 100, isInUse: { s, p in asked.append((s, p)); return true }) == fakeSpan(7))
        #expect(asked.count == 1 && asked[0].0 == fakeSpan(7) && asked[0].1 == a + 100)
        #expect(map.spanOfHeap(a + 100, isInUse: { _, _ in false }) == nil)
        // No span recorded: the predicate is not asked.
        #expect(map.spanOfHeap(a + UInt(4 * 8192), isInUse: { _, _ in Issue.record("asked"); return true }) == nil)
    }

    @Test func fourAnd128KiBPagesResolveAndSplitIntoBitmapWords() throws {
        let map = try ArenaMap(space: FakeAddressSpace(), pageSize: 4096)
        #expect(map.pagesPerArena == 16384)
        let a = try map.reserveArenas(bytes: arenaBytes, node: 0).get()
        map.setSpan(base: a + 4096, pages: 1, span: fakeSpan(3))
        #expect(map.spanOf(a + 4095) == nil)
        #expect(map.spanOf(a + 4096) == fakeSpan(3))
        #expect(map.spanOf(a + 8192) == nil)
        let big = try ArenaMap(space: FakeAddressSpace(), pageSize: 128 * 1024)
        #expect(big.pagesPerArena == 512)
        let b = try big.reserveArenas(bytes: arenaBytes, node: 0).get()
        big.setSpan(base: b + UInt(511 * 128 * 1024), pages: 1, span: fakeSpan(9))
        #expect(big.spanOf(b + UInt(arenaBytes) - 1) == fakeSpan(9))
        #expect(big.pageIndexOf(b + UInt(arenaBytes) - 1)!.word == 7)
    }
}
