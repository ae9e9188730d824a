// Shared helpers: Go-style bitmap specs (chunk → ranges of set bits), an
// allocator built from them, its bitmaps read back, and a full check of the
// summaries and counters against ones recomputed from the bitmaps.
@testable import PageAlloc
import Testing

/// A run of bits in a chunk: pages [i, i+n) (Go's BitRange).
struct BitRange: Hashable, Sendable, CustomStringConvertible {
    var i: UInt
    var n: UInt
    init(_ i: UInt, _ n: UInt) { self.i = i; self.n = n }
    var description: String { "{\(i), \(n)}" }
}

/// Chunk index → ranges of set bits, sorted, merged.
typealias Bitmaps = [UInt: [BitRange]]

/// A chunk well inside the address space (64 GiB at 8 KiB pages), like Go's BaseChunkIdx.
let baseChunk: UInt = 0x4000
let testPageShift: UInt = 13

func chunkAddress(_ ci: UInt) -> UInt { ci << (testPageShift + 9) }
func pageAddress(_ ci: UInt, _ i: UInt) -> UInt { chunkAddress(ci) + i << testPageShift }

/// An allocator over exactly the chunks named in `alloc`, with those alloc
/// bits and exactly the scavenged bits in `scav` (restricted to free pages).
func makeAllocator(_ alloc: Bitmaps, scav: Bitmaps = [:]) -> PageAllocator {
    var a = PageAllocator(pageSize: 1 << Int(testPageShift))
    for ci in alloc.keys.sorted() {
        a.grow(base: chunkAddress(ci), bytes: a.chunkSize)
    }
    for ci in alloc.keys.sorted() {
        let bits = a.chunks.alloc(ci), s = a.chunks.scavenged(ci)
        bits.clearAll()
        s.clearAll()
        for r in alloc[ci]! where r.n > 0 { bits.setRange(r.i, r.n) }
        for r in scav[ci] ?? [] where r.n > 0 { s.setRange(r.i, r.n) }
        for w in 0..<8 { s.words[w] &= ~bits.words[w] }
        a.update(ci << 9, 512, contiguous: false, allocated: false)
    }
    recount(&a)
    if a.grown.count > 0 { a.searchPage = a.grown.lo(0) }
    return a
}

/// Recomputes the free and scavenged counters from the bitmaps.
func recount(_ a: inout PageAllocator) {
    var free: UInt = 0, scav: UInt = 0
    forEachGrownChunk(a) { ci in
        free += 512 - a.chunks.alloc(ci).popcountRange(0, 512)
        scav += a.chunks.scavenged(ci).popcountRange(0, 512)
    }
    a.freeCount = free
    a.scavengedCount = scav
}

func forEachGrownChunk(_ a: borrowing PageAllocator, _ body: (UInt) -> Void) {
    for r in 0..<a.grown.count {
        var ci = a.grown.lo(r) >> 9
        while ci < a.grown.hi(r) >> 9 { body(ci); ci += 1 }
    }
}

/// The set bits of one chunk bitmap as merged ranges.
func ranges(_ bits: PallocBits) -> [BitRange] {
    var out: [BitRange] = []
    var i: UInt = 0
    while i < 512 {
        if bits.words[Int(i >> 6)] >> (i & 63) & 1 == 1 {
            var j = i
            while j < 512 && bits.words[Int(j >> 6)] >> (j & 63) & 1 == 1 { j += 1 }
            out.append(BitRange(i, j - i))
            i = j
        } else {
            i += 1
        }
    }
    return out
}

/// Every grown chunk's alloc bits.
func allocBitmaps(_ a: borrowing PageAllocator) -> Bitmaps {
    var out: Bitmaps = [:]
    forEachGrownChunk(a) { ci in out[ci] = ranges(a.chunks.alloc(ci)) }
    return out
}

/// Every grown chunk's scavenged bits (chunks with none left out).
func scavBitmaps(_ a: borrowing PageAllocator) -> Bitmaps {
    var out: Bitmaps = [:]
    forEachGrownChunk(a) { ci in
        let r = ranges(a.chunks.scavenged(ci))
        if !r.isEmpty { out[ci] = r }
    }
    return out
}

/// The summary of a chunk computed bit by bit, independently of PallocBits.summarize.
func naiveSummary(_ bits: PallocBits) -> (start: UInt, max: UInt, end: UInt) {
    var start: UInt = 0, max: UInt = 0, run: UInt = 0
    var inStart = true
    for i in 0..<UInt(512) {
        let used = bits.words[Int(i >> 6)] >> (i & 63) & 1 == 1
        if used {
            if inStart { start = run; inStart = false }
            run = 0
        } else {
            run += 1
            if run > max { max = run }
        }
    }
    if inStart { start = 512 }
    return (start, max, run)
}

/// Recomputes every summary of the grown space from the bitmaps (leaves with a
/// bit-by-bit scan, parents by merging) and compares each with the stored one;
/// checks the counters and that scavenged pages are free. Returns the number
/// of mismatches, each recorded as an issue.
@discardableResult
func checkSummaries(_ a: borrowing PageAllocator, sourceLocation: SourceLocation = #_sourceLocation) -> Int {
    var bad = 0
    var expected: [UInt: PackedSummary] = [:]
    var free: UInt = 0, scav: UInt = 0
    forEachGrownChunk(a) { ci in
        let bits = a.chunks.alloc(ci), s = a.chunks.scavenged(ci)
        let n = naiveSummary(bits)
        expected[ci] = PackedSummary(start: n.start, max: n.max, end: n.end)
        free += 512 - bits.popcountRange(0, 512)
        scav += s.popcountRange(0, 512)
        for w in 0..<8 where s.words[w] & bits.words[w] != 0 {
            Issue.record("chunk \(ci) word \(w): scavenged bits on allocated pages", sourceLocation: sourceLocation)
            bad += 1
        }
    }
    if free != a.freeCount || scav != a.scavengedCount {
        Issue.record("counters: free \(a.freeCount) (bitmaps \(free)), scavenged \(a.scavengedCount) (bitmaps \(scav))", sourceLocation: sourceLocation)
        bad += 1
    }
    // Parents are folded from the recomputed children with a run-length scan
    // written independently of PackedSummary.merge.
    var level = summaryLevelCount - 1
    while true {
        for (i, sum) in expected {
            let got = a.summaries[level, Int(i)]
            if got.start != sum.start || got.max != sum.max || got.end != sum.end {
                Issue.record("summary[\(level)][\(i)] = (\(got.start), \(got.max), \(got.end)), recomputed (\(sum.start), \(sum.max), \(sum.end))", sourceLocation: sourceLocation)
                bad += 1
            }
        }
        if level == 0 { break }
        var parents: [UInt: PackedSummary] = [:]
        let childPages: UInt = 1 << SummaryLevels.logPages(level)
        for i in Set(expected.keys.map { $0 >> 3 }) {
            var start: UInt = 0, startOpen = true, maxRun: UInt = 0, run: UInt = 0
            for k in 0..<UInt(8) {
                let c = expected[i << 3 + k] ?? PackedSummary(raw: 0)
                if c.start == childPages {
                    run += childPages
                    if startOpen { start += childPages }
                    maxRun = max(maxRun, run)
                    continue
                }
                run += c.start
                if startOpen { start += c.start; startOpen = false }
                maxRun = max(maxRun, run, c.max)
                run = c.end
            }
            maxRun = max(maxRun, run)
            parents[i] = PackedSummary(start: start, max: maxRun, end: run)
        }
        expected = parents
        level -= 1
    }
    return bad
}
