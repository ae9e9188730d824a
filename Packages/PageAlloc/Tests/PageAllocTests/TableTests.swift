// Go-style table tests (mpagealloc_test.go's shape, our own cases): a
// before-state of bitmaps, a list of operations with their expected results,
// an after-state; the summaries are checked against recomputed ones each time.
@testable import PageAlloc
import Testing

let BC = baseChunk

/// One expected allocation: n pages at (chunk, page) or nil, with `scav` scavenged pages.
struct Hit: Sendable, CustomStringConvertible {
    var n: Int
    var at: (chunk: UInt, page: UInt)?
    var scav: UInt = 0
    var description: String { at.map { "\(n)@(\($0.chunk), \($0.page))" } ?? "\(n)@nil" }
}

struct AllocCase: Sendable, CustomTestStringConvertible {
    var name: String
    var before: Bitmaps
    var scav: Bitmaps = [:]
    var hits: [Hit]
    var after: Bitmaps
    var testDescription: String { name }
}

let allocCases: [AllocCase] = [
    AllocCase(name: "AllFree1", before: [BC: []],
              hits: [Hit(n: 1, at: (BC, 0)), Hit(n: 1, at: (BC, 1)), Hit(n: 1, at: (BC, 2))],
              after: [BC: [BitRange(0, 3)]]),
    AllocCase(name: "AllFreeScavenged", before: [BC: []], scav: [BC: [BitRange(0, 1), BitRange(511, 1)]],
              hits: [Hit(n: 1, at: (BC, 0), scav: 1), Hit(n: 2, at: (BC, 1)), Hit(n: 509, at: (BC, 3), scav: 1), Hit(n: 1, at: nil)],
              after: [BC: [BitRange(0, 512)]]),
    AllocCase(name: "NotContiguousPages", before: [BC: [BitRange(0, 1), BitRange(2, 1)]],
              hits: [Hit(n: 2, at: (BC, 3)), Hit(n: 1, at: (BC, 1))],
              after: [BC: [BitRange(0, 5)]]),
    AllocCase(name: "AcrossChunks", before: [BC: [BitRange(0, 500)], BC + 1: []],
              hits: [Hit(n: 20, at: (BC, 500))],
              after: [BC: [BitRange(0, 512)], BC + 1: [BitRange(0, 8)]]),
    AllocCase(name: "ManyChunksExactFit", before: [BC: [BitRange(0, 1)], BC + 1: [], BC + 2: [], BC + 3: [BitRange(100, 1)]],
              hits: [Hit(n: 1635, at: (BC, 1)), Hit(n: 1, at: (BC + 3, 101)), Hit(n: 411, at: nil), Hit(n: 410, at: (BC + 3, 102))],
              after: [BC: [BitRange(0, 512)], BC + 1: [BitRange(0, 512)], BC + 2: [BitRange(0, 512)], BC + 3: [BitRange(0, 512)]]),
    AllocCase(name: "NotContiguousChunks", before: [BC: [BitRange(0, 512)], BC + 2: []],
              hits: [Hit(n: 1, at: (BC + 2, 0)), Hit(n: 512, at: nil), Hit(n: 511, at: (BC + 2, 1))],
              after: [BC: [BitRange(0, 512)], BC + 2: [BitRange(0, 512)]]),
    AllocCase(name: "FirstFitSkipsSmallHoles",
              before: [BC: [BitRange(0, 10), BitRange(12, 20), BitRange(40, 472)], BC + 1: [BitRange(0, 512)], BC + 5: []],
              hits: [Hit(n: 8, at: (BC, 32)), Hit(n: 2, at: (BC, 10)), Hit(n: 9, at: (BC + 5, 0))],
              after: [BC: [BitRange(0, 512)], BC + 1: [BitRange(0, 512)], BC + 5: [BitRange(0, 9)]]),
    AllocCase(name: "AcrossRootBoundary", before: [BC + 4095: [BitRange(0, 256)], BC + 4096: [BitRange(256, 256)]],
              hits: [Hit(n: 512, at: (BC + 4095, 256)), Hit(n: 1, at: nil)],
              after: [BC + 4095: [BitRange(0, 512)], BC + 4096: [BitRange(0, 512)]]),
    AllocCase(name: "Exhausted", before: [BC: [BitRange(0, 512)]],
              hits: [Hit(n: 1, at: nil), Hit(n: 100, at: nil)],
              after: [BC: [BitRange(0, 512)]]),
    AllocCase(name: "Large4096", before: [BC: [BitRange(0, 1)], BC + 1: [], BC + 2: [], BC + 3: [], BC + 4: [], BC + 5: [], BC + 6: [], BC + 7: [], BC + 8: [], BC + 9: []],
              hits: [Hit(n: 4096, at: (BC, 1)), Hit(n: 1024, at: nil), Hit(n: 1023, at: (BC + 8, 1)), Hit(n: 1, at: nil)],
              after: [BC: [BitRange(0, 512)], BC + 1: [BitRange(0, 512)], BC + 2: [BitRange(0, 512)], BC + 3: [BitRange(0, 512)],
                      BC + 4: [BitRange(0, 512)], BC + 5: [BitRange(0, 512)], BC + 6: [BitRange(0, 512)], BC + 7: [BitRange(0, 512)],
                      BC + 8: [BitRange(0, 512)], BC + 9: [BitRange(0, 512)]]),
    AllocCase(name: "FarApartArenas", before: [BC: [BitRange(0, 512)], BC + 70_000: [BitRange(0, 7)], BC + 3_000_000: []],
              hits: [Hit(n: 600, at: nil), Hit(n: 505, at: (BC + 70_000, 7)), Hit(n: 3, at: (BC + 3_000_000, 0))],
              after: [BC: [BitRange(0, 512)], BC + 70_000: [BitRange(0, 512)], BC + 3_000_000: [BitRange(0, 3)]]),
]

/// Expects the allocator's alloc bitmaps to equal `want` (chunks with no bits may be omitted as []).
func expectBitmaps(_ a: borrowing PageAllocator, _ want: Bitmaps, _ what: String, sourceLocation: SourceLocation = #_sourceLocation) {
    let got = allocBitmaps(a)
    #expect(got == want, "\(what) alloc bitmaps", sourceLocation: sourceLocation)
}

@Suite struct TableTests {
    @Test(arguments: allocCases)
    func allocationsLandAtTheExpectedPagesWithTheirScavengedBytes(_ c: AllocCase) {
        var a = makeAllocator(c.before, scav: c.scav)
        checkSummaries(a)
        for h in c.hits {
            let r = a.allocate(pages: h.n)
            if let at = h.at {
                #expect(r?.base == pageAddress(at.chunk, at.page), "\(c.name): \(h)")
                #expect(r?.scavengedBytes == Int(h.scav) << 13, "\(c.name): \(h) scavenged")
            } else {
                #expect(r == nil, "\(c.name): \(h) got \(String(describing: r))")
            }
            checkSummaries(a)
        }
        expectBitmaps(a, c.after, c.name)
    }

    struct FreeCase: Sendable, CustomTestStringConvertible {
        var name: String
        var before: Bitmaps
        var frees: [(chunk: UInt, page: UInt, n: Int)]
        var after: Bitmaps
        var testDescription: String { name }
    }

    static let freeCases: [FreeCase] = [
        FreeCase(name: "Free1", before: [BC: [BitRange(0, 512)]], frees: [(BC, 0, 1)], after: [BC: [BitRange(1, 511)]]),
        FreeCase(name: "FreeLast", before: [BC: [BitRange(0, 512)]], frees: [(BC, 511, 1)], after: [BC: [BitRange(0, 511)]]),
        FreeCase(name: "FreeAcrossChunks", before: [BC: [BitRange(0, 512)], BC + 1: [BitRange(0, 512)], BC + 2: [BitRange(0, 512)]],
                 frees: [(BC, 500, 600)], after: [BC: [BitRange(0, 500)], BC + 1: [], BC + 2: [BitRange(76, 436)]]),
        FreeCase(name: "FreePartsOfAnAllocation", before: [BC: [BitRange(0, 100)]],
                 frees: [(BC, 10, 5), (BC, 50, 50)], after: [BC: [BitRange(0, 10), BitRange(15, 35)]]),
        FreeCase(name: "FreeManyChunks", before: [BC: [BitRange(0, 512)], BC + 1: [BitRange(0, 512)], BC + 2: [BitRange(0, 512)], BC + 3: [BitRange(0, 512)]],
                 frees: [(BC, 0, 2048)], after: [BC: [], BC + 1: [], BC + 2: [], BC + 3: []]),
        FreeCase(name: "FreeAcrossRootBoundary", before: [BC + 4095: [BitRange(0, 512)], BC + 4096: [BitRange(0, 512)]],
                 frees: [(BC + 4095, 300, 400)], after: [BC + 4095: [BitRange(0, 300)], BC + 4096: [BitRange(188, 324)]]),
    ]

    @Test(arguments: freeCases)
    func freesClearTheirBitsAndTheLowestFreedPageIsFoundFirst(_ c: FreeCase) {
        var a = makeAllocator(c.before)
        for f in c.frees {
            a.free(base: pageAddress(f.chunk, f.page), pages: f.n)
            checkSummaries(a)
        }
        expectBitmaps(a, c.after, c.name)
        // The freed space is found again, lowest first.
        let lowest = c.frees.map { pageAddress($0.chunk, $0.page) }.min()!
        #expect(a.allocate(pages: 1)?.base == lowest)
    }

    @Test(arguments: [1, 2, 5, 12, 15, 40, 64, 123, 511, 512, 750, 2000])
    func sameSizedAllocationsFillEveryRunLowestFirstAndNeverCrossAGap(_ npages: Int) {
        // Three chunks contiguous, a gap, two more: runs never cross the gap.
        let chunksSpec: Bitmaps = [BC: [], BC + 1: [], BC + 2: [], BC + 4: [], BC + 5: []]
        var a = makeAllocator(chunksSpec)
        var expected: [UInt] = []
        for (first, count) in [(BC, UInt(3)), (BC + 4, UInt(2))] {
            let pages = count * 512
            for k in 0..<(pages / UInt(npages)) { expected.append(chunkAddress(first) + k * UInt(npages) << 13) }
        }
        var got: [UInt] = []
        while let r = a.allocate(pages: npages) {
            got.append(r.base)
            #expect(r.scavengedBytes == 0)   // makeAllocator sets no scavenged bits
        }
        #expect(got == expected)
        #expect(a.allocate(pages: npages) == nil)
        checkSummaries(a)
        #expect(a.freePages == 5 * 512 - expected.count * npages)
    }

    enum Op: Sendable { case alloc(Int, (UInt, UInt)?), free(UInt, UInt, Int) }
    struct AllocFreeCase: Sendable, CustomTestStringConvertible {
        var name: String
        var before: Bitmaps
        var ops: [Op]
        var after: Bitmaps
        var testDescription: String { name }
    }

    static let allocFreeCases: [AllocFreeCase] = [
        AllocFreeCase(name: "AllocFreeAlloc", before: [BC: []],
                      ops: [.alloc(10, (BC, 0)), .alloc(10, (BC, 10)), .free(BC, 0, 10), .alloc(5, (BC, 0)), .alloc(6, (BC, 20)), .alloc(5, (BC, 5))],
                      after: [BC: [BitRange(0, 26)]]),
        AllocFreeCase(name: "FreeLowersHint", before: [BC: [BitRange(0, 512)], BC + 1: [BitRange(0, 512)]],
                      ops: [.alloc(1, nil), .free(BC + 1, 100, 1), .free(BC, 3, 2), .alloc(1, (BC, 3)), .alloc(2, nil), .alloc(1, (BC, 4)), .alloc(1, (BC + 1, 100)), .alloc(1, nil)],
                      after: [BC: [BitRange(0, 512)], BC + 1: [BitRange(0, 512)]]),
        AllocFreeCase(name: "CoalesceAcrossChunks", before: [BC: [BitRange(0, 512)], BC + 1: [BitRange(0, 512)]],
                      ops: [.free(BC, 256, 256), .free(BC + 1, 0, 256), .alloc(512, (BC, 256)), .free(BC, 300, 10), .alloc(11, nil), .alloc(10, (BC, 300))],
                      after: [BC: [BitRange(0, 512)], BC + 1: [BitRange(0, 512)]]),
    ]

    @Test(arguments: allocFreeCases)
    func allocFreeSequencesGiveTheExpectedPagesAndBitmaps(_ c: AllocFreeCase) {
        var a = makeAllocator(c.before)
        for (k, op) in c.ops.enumerated() {
            switch op {
            case .alloc(let n, let at):
                let r = a.allocate(pages: n)
                if let at { #expect(r?.base == pageAddress(at.0, at.1), "\(c.name) op \(k)") } else { #expect(r == nil, "\(c.name) op \(k)") }
            case .free(let ci, let pi, let n):
                a.free(base: pageAddress(ci, pi), pages: n)
            }
            checkSummaries(a)
        }
        expectBitmaps(a, c.after, c.name)
    }

    @Test func growingOutOfOrderJoinsRangesSummariesAndTheHint() {
        var a = PageAllocator()
        #expect(a.allocate(pages: 1) == nil)
        // Out of order, discontiguous, then joining.
        a.grow(base: chunkAddress(BC + 10), bytes: 2 * a.chunkSize)
        a.grow(base: chunkAddress(BC), bytes: a.chunkSize)
        a.grow(base: chunkAddress(BC + 4095), bytes: 3 * a.chunkSize)   // crosses a root boundary
        a.grow(base: chunkAddress(BC + 1), bytes: a.chunkSize)           // joins BC
        #expect(a.grown.count == 3)
        #expect(a.grown.lo(0) == BC << 9 && a.grown.hi(0) == (BC + 2) << 9)
        #expect(a.grown.lo(1) == (BC + 10) << 9 && a.grown.hi(1) == (BC + 12) << 9)
        #expect(a.startChunk == BC && a.endChunk == BC + 4098)
        #expect(a.freePages == 7 * 512 && a.scavengedPages == 7 * 512 && a.grownPages == 7 * 512)
        let all: Bitmaps = [BC: [], BC + 1: [], BC + 10: [], BC + 11: [], BC + 4095: [], BC + 4096: [], BC + 4097: []]
        expectBitmaps(a, all, "grow")
        #expect(scavBitmaps(a) == all.mapValues { _ in [BitRange(0, 512)] })
        checkSummaries(a)
        #expect(a.summaries[summaryLevelCount - 1, Int(BC)] == .freeChunk)
        #expect(a.summaries[0, Int(BC >> 12)].max == 1024)
        #expect(a.summaries[0, Int((BC + 4096) >> 12)].start == 1024)
        #expect(a.summaries[0, Int((BC + 4095) >> 12)].end == 512)
        // A run joins the grown pieces across the root boundary.
        #expect(a.allocate(pages: 1537) == nil)
        #expect(a.allocate(pages: 1536)?.base == chunkAddress(BC + 4095))
        // Growing below the hint lowers it.
        var b = makeAllocator([BC + 5: [BitRange(0, 512)]])
        #expect(b.allocate(pages: 1) == nil)
        b.grow(base: chunkAddress(BC + 3), bytes: b.chunkSize)
        #expect(b.allocate(pages: 1)?.base == chunkAddress(BC + 3))
        checkSummaries(b)
    }

    @Test func growAtTheTopOfTheAddressSpace() {
        var a = PageAllocator(pageSize: 4096)
        let top: UInt = 1 << 48
        a.grow(base: top - 4 * UInt(a.chunkSize), bytes: 4 * a.chunkSize)
        #expect(a.allocate(pages: 2048)?.base == top - 4 * UInt(a.chunkSize))
        #expect(a.allocate(pages: 1) == nil)
        a.free(base: top - 4096, pages: 1)
        #expect(a.allocate(pages: 1)?.base == top - 4096)
        checkSummaries(a)
    }

    struct CandidateCase: Sendable, CustomTestStringConvertible {
        var name: String
        var alloc: Bitmaps
        var scav: Bitmaps
        var below: (UInt, UInt)
        var max: Int
        var want: (UInt, UInt, Int)?
        var testDescription: String { name }
    }

    static let candidateCases: [CandidateCase] = [
        CandidateCase(name: "AllFreeUnscavenged", alloc: [BC: []], scav: [:], below: (BC + 1, 0), max: 10, want: (BC, 502, 10)),
        CandidateCase(name: "SkipsScavengedAndAllocated", alloc: [BC: [BitRange(0, 100), BitRange(300, 100)]], scav: [BC: [BitRange(400, 112)]],
                      below: (BC + 1, 0), max: 1000, want: (BC, 100, 200)),
        CandidateCase(name: "BelowAnAddress", alloc: [BC: [BitRange(0, 100), BitRange(300, 100)]], scav: [BC: [BitRange(400, 112)]],
                      below: (BC, 150), max: 1000, want: (BC, 100, 50)),
        CandidateCase(name: "AcrossWords", alloc: [BC: [BitRange(0, 60), BitRange(71, 441)]], scav: [:],
                      below: (BC + 1, 0), max: 64, want: (BC, 60, 11)),
        CandidateCase(name: "WholeChunk", alloc: [BC: []], scav: [:], below: (BC + 1, 0), max: 512, want: (BC, 0, 512)),
        CandidateCase(name: "None", alloc: [BC: [BitRange(0, 256)]], scav: [BC: [BitRange(256, 256)]], below: (BC + 1, 0), max: 5, want: nil),
        CandidateCase(name: "LowerChunk", alloc: [BC: [BitRange(0, 3)], BC + 1: [BitRange(0, 512)], BC + 7: []], scav: [BC + 7: [BitRange(0, 512)]],
                      below: (BC + 8, 0), max: 600, want: (BC, 3, 509)),
    ]

    @Test(arguments: candidateCases)
    func scavengeCandidateIsTheHighestFreeUnscavengedRunBelowTheLimit(_ c: CandidateCase) {
        let a = makeAllocator(c.alloc, scav: c.scav)
        let r = a.findScavengeCandidate(below: pageAddress(c.below.0, c.below.1), maxPages: c.max)
        if let w = c.want {
            #expect(r?.base == pageAddress(w.0, w.1) && r?.pages == w.2, "\(c.name): got \(String(describing: r))")
        } else {
            #expect(r == nil, "\(c.name): got \(String(describing: r))")
        }
    }

    struct Recorder: PageReleaser {
        var ranges: [(UInt, Int)] = []
        mutating func release(base: UInt, bytes: Int) { ranges.append((base, bytes)) }
    }

    @Test func scavengeReleasesTopDownAndAllocationReportsAndClearsScavengedPages() {
        var a = makeAllocator([BC: [BitRange(0, 100)], BC + 1: []])
        var rec = Recorder()
        #expect(a.scavenge(bytes: 5 << 13, releaser: &rec) == 5 << 13)
        #expect(rec.ranges.map { $0.0 } == [pageAddress(BC + 1, 507)] && rec.ranges.map { $0.1 } == [5 << 13])
        rec.ranges = []
        #expect(a.scavenge(bytes: 600 << 13, releaser: &rec) == 600 << 13)
        #expect(rec.ranges.map { $0.0 } == [pageAddress(BC + 1, 0), pageAddress(BC, 419)])
        #expect(rec.ranges.map { $0.1 } == [507 << 13, 93 << 13])
        #expect(scavBitmaps(a) == [BC: [BitRange(419, 93)], BC + 1: [BitRange(0, 512)]])
        #expect(a.scavengedPages == 605)
        // Everything left, then nothing.
        #expect(a.scavenge(bytes: 1 << 30) == 319 << 13)
        #expect(a.scavenge(bytes: 1 << 30) == 0)
        #expect(a.scavengedPages == a.freePages)
        checkSummaries(a)
        // Allocation reports and clears them; freeing leaves them clear.
        let r = a.allocate(pages: 20)!
        #expect(r.base == pageAddress(BC, 100) && r.scavengedBytes == 20 << 13)
        a.free(base: r.base, pages: 20)
        #expect(a.scavengedPages == a.freePages - 20)
        // A partial byte count rounds up to a page; wraps around to the top once.
        #expect(a.scavenge(bytes: 1) == 1 << 13)
        #expect(scavBitmaps(a)[BC] == [BitRange(119, 393)])
        // markScavenged is explicit and idempotent.
        a.markScavenged(base: pageAddress(BC, 100), pages: 19)
        a.markScavenged(base: pageAddress(BC, 100), pages: 19)
        #expect(a.scavengedPages == a.freePages)
        checkSummaries(a)
    }

    @Test func pageCacheTakesTheLowestFreeBlockAndFlushesItBack() {
        var a = makeAllocator([BC: [BitRange(0, 70), BitRange(130, 2)], BC + 1: []], scav: [BC: [BitRange(70, 10)]])
        var c = a.allocToCache()
        // The block holding the lowest free page (70): pages 64..127.
        #expect(c.base == pageAddress(BC, 64))
        #expect(c.freePages == 58)
        #expect(a.freePages == 1024 - 72 - 58)
        #expect(allocBitmaps(a)[BC] == [BitRange(0, 128), BitRange(130, 2)])
        #expect(c.allocate(pages: 1)! == (pageAddress(BC, 70), 8192))
        #expect(c.allocate(pages: 9)! == (pageAddress(BC, 71), 9 << 13))
        #expect(c.allocate(pages: 60) == nil)
        #expect(c.allocate(pages: 48)! == (pageAddress(BC, 80), 0))
        // The next cache starts after the block: 128, 129, then 132...
        var d = a.allocToCache()
        #expect(d.base == pageAddress(BC, 128))
        #expect(d.allocate(pages: 3)?.base == pageAddress(BC, 132))
        a.flush(&d)
        #expect(d.isEmpty)
        a.flush(&c)
        #expect(allocBitmaps(a)[BC] == [BitRange(0, 128), BitRange(130, 5)])
        checkSummaries(a)
        // Pages from a cache free to the allocator.
        a.free(base: pageAddress(BC, 70), pages: 1)
        #expect(a.allocate(pages: 1)?.base == pageAddress(BC, 70))
        // Exhaust through caches only.
        var total = 0
        while true {
            var e = a.allocToCache()
            if e.isEmpty { break }
            while e.allocate() != nil { total += 1 }
        }
        #expect(total == 1024 - 133)
        #expect(a.freePages == 0)
        checkSummaries(a)
    }
}
