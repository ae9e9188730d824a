// PallocBits and PackedSummary against bit-by-bit computations, and the
// à la carte example from the documentation.
@testable import PageAlloc
import Platform
import Testing

@Suite struct BitsAndSummaryTests {
    @Test func packedSummaryRoundTripsAndEncodesAllFree() {
        for (s, m, e) in [(0, 0, 0), (1, 5, 3), (512, 512, 512), (2_097_151, 2_097_151, 2_097_151), (7, 1 << 20, 0)] as [(UInt, UInt, UInt)] {
            let p = PackedSummary(start: s, max: m, end: e)
            #expect(p.start == s && p.max == m && p.end == e)
        }
        let all = PackedSummary(start: 1 << 21, max: 1 << 21, end: 1 << 21)
        #expect(all.raw == 1 << 63 && all.start == 1 << 21 && all.max == 1 << 21 && all.end == 1 << 21)
        #expect(PackedSummary.full.raw == 0)
    }

    @Test func mergeOfFreeChildrenIsAllFree() {
        var children = [UInt64](repeating: PackedSummary(start: 1 << 18, max: 1 << 18, end: 1 << 18).raw, count: 8)
        let m = children.withUnsafeBufferPointer { PackedSummary.merge($0.baseAddress!, count: 8, logChildPages: 18) }
        #expect(m.allFreeEncoding)
        children[3] = PackedSummary(start: 10, max: 100, end: 20).raw
        let n = children.withUnsafeBufferPointer { PackedSummary.merge($0.baseAddress!, count: 8, logChildPages: 18) }
        #expect(n.start == 3 << 18 + 10 && n.end == 4 << 18 + 20 && n.max == 4 << 18 + 20)
    }

    /// Random children (each a free prefix, a free run inside, a free suffix,
    /// or wholly free) merged at every child size a parent below the root sees,
    /// against the parent's pages expanded one by one.
    @Test func mergeMatchesPageByPageRuns() {
        var rng = SplitMix64(seed: 7)
        for logChild in [9, 12, 15, 18] as [UInt] {
            let childPages = UInt(1) << logChild
            for _ in 0..<(logChild <= 12 ? 300 : 12) {
                var raws = [UInt64](), runs = [(start: UInt, inner: (at: UInt, length: UInt), end: UInt)]()
                for _ in 0..<8 {
                    if rng.below(3) == 0 {
                        raws.append(PackedSummary(start: childPages, max: childPages, end: childPages).raw)
                        runs.append((childPages, (0, 0), 0))
                        continue
                    }
                    // start + inner + end < childPages, with an allocated page between each.
                    let start = UInt(rng.below(Int(childPages / 4)))
                    let end = UInt(rng.below(Int(childPages / 4)))
                    let innerAt = start + 1 + UInt(rng.below(Int(childPages / 4)))
                    let inner = UInt(rng.below(Int(childPages - end - innerAt - 1)))
                    raws.append(PackedSummary(start: start, max: max(start, inner, end), end: end).raw)
                    runs.append((start, (innerAt, inner), end))
                }
                // Expand to pages (true = free) and scan.
                var free = [Bool](repeating: false, count: Int(8 * childPages))
                for (k, r) in runs.enumerated() {
                    let base = Int(UInt(k) * childPages)
                    if r.start == childPages { for i in 0..<Int(childPages) { free[base + i] = true }; continue }
                    for i in 0..<Int(r.start) { free[base + i] = true }
                    for i in 0..<Int(r.inner.length) { free[base + Int(r.inner.at) + i] = true }
                    for i in 0..<Int(r.end) { free[base + Int(childPages) - 1 - i] = true }
                }
                let start = UInt(free.firstIndex(of: false) ?? free.count)
                let end = UInt(free.count - 1 - (free.lastIndex(of: false) ?? -1))
                var longest: UInt = 0, run: UInt = 0
                for f in free { run = f ? run + 1 : 0; longest = max(longest, run) }
                let m = raws.withUnsafeBufferPointer { PackedSummary.merge($0.baseAddress!, count: 8, logChildPages: logChild) }
                #expect(m.start == start && m.max == longest && m.end == end, "children \(runs) at 2^\(logChild) pages")
                let loop = raws.withUnsafeBufferPointer { PackedSummary.merge($0.baseAddress!, count: 7, logChildPages: logChild) }
                let seven = Int(7 * childPages)
                #expect(loop.start == UInt(free[..<seven].firstIndex(of: false) ?? seven), "the first 7 children")
            }
        }
    }

    @Test func longestZeroRunMatchesNaive() {
        var rng = SplitMix64(seed: 11)
        var words: [UInt64] = [0, ~0, 1, 1 << 63, 0x8000_0000_0000_0001, 0xFFFF_FFFF_0000_0000]
        for _ in 0..<5000 {
            // Sparse, dense and single-run words.
            switch rng.below(3) {
            case 0: words.append(rng.next() | rng.next())
            case 1: words.append(rng.next() & rng.next() & rng.next())
            default:
                let at = UInt64(rng.below(64)), len = UInt64(rng.below(64 - Int(at)) + 1)
                words.append(~((len == 64 ? ~0 : (1 << len) - 1) << at))
            }
        }
        for x in words {
            var naive: UInt = 0, run: UInt = 0
            for i in 0..<UInt(64) { run = x >> i & 1 == 0 ? run + 1 : 0; naive = max(naive, run) }
            #expect(PallocBits.longestZeroRun(x) == naive, "x \(String(x, radix: 16))")
        }
    }

    @Test func firstRunOfOnesMatchesNaive() {
        var rng = SplitMix64(seed: 42)
        for _ in 0..<2000 {
            var x = rng.next() & rng.next() | (rng.next() & rng.next() & rng.next())
            if rng.below(4) == 0 { x = ~(rng.next() & rng.next()) }
            for n in [1, 2, 3, 5, 8, 13, 31, 32, 33, 63, 64] as [UInt] {
                var naive: UInt = 64, run: UInt = 0
                for i in 0..<UInt(64) {
                    if x >> i & 1 == 1 { run += 1; if run == n { naive = i + 1 - n; break } } else { run = 0 }
                }
                #expect(PallocBits.firstRunOfOnes(x, n) == naive, "x \(x) n \(n)")
            }
        }
    }

    @Test func summarizeAndFindMatchNaive() {
        var rng = SplitMix64(seed: 7)
        let words = UnsafeMutablePointer<UInt64>.allocate(capacity: 8)
        defer { words.deallocate() }
        let bits = PallocBits(words)
        for trial in 0..<400 {
            // Sparse, dense, and run-structured patterns.
            for w in 0..<8 {
                switch trial % 4 {
                case 0: words[w] = rng.next() & rng.next() & rng.next()
                case 1: words[w] = rng.next() | rng.next()
                case 2: words[w] = rng.below(3) == 0 ? 0 : rng.below(2) == 0 ? ~0 : rng.next()
                default: words[w] = rng.below(2) == 0 ? 0 : ~0
                }
            }
            let s = bits.summarize(), n = naiveSummary(bits)
            #expect(s.start == n.start && s.max == n.max && s.end == n.end)
            for npages in [1, 2, 7, 64, 65, 130, 512] as [UInt] {
                let from = UInt(rng.below(512))
                var want: UInt? = nil, run: UInt = 0, firstFree: UInt = 512
                for i in from..<512 {
                    if bits.words[Int(i >> 6)] >> (i & 63) & 1 == 0 {
                        if firstFree == 512 { firstFree = i }
                        run += 1
                        if run == npages { want = i + 1 - npages; break }
                    } else { run = 0 }
                }
                let got = bits.find(npages, from: from)
                #expect(got.index == want, "n \(npages) from \(from)")
                if want != nil { #expect(got.firstFree == firstFree) }
            }
        }
    }

    /// The DocC example: 4 KiB blocks of a 1 GiB file, no memory involved.
    @Test func aLaCarteOverANonMemoryRange() {
        var blocks = PageAllocator(pageSize: 4096)
        blocks.grow(base: 0, bytes: 1 << 30)
        let (offset, scavenged) = blocks.allocate(pages: 16)!
        #expect(offset == 0 && scavenged == 16 * 4096)
        let second = blocks.allocate(pages: 3)!
        #expect(second.base == 16 * 4096)
        blocks.free(base: offset, pages: 16)
        #expect(blocks.allocate(pages: 10)?.base == 0)
        #expect(blocks.freePages == (1 << 18) - 13)
        // Nothing is "released" until something was used and freed again.
        #expect(blocks.scavenge(bytes: 1 << 20) == 6 * 4096)
        #expect(blocks.scavengedPages == blocks.freePages)
    }
}
