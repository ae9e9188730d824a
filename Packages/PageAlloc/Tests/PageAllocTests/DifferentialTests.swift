// Differential test: 10^6 random operations on a discontiguous, multi-chunk,
// multi-arena space (one range crossing a root-summary boundary, one at the
// top of the 48-bit space, one grown mid-run next to another), each checked
// against a plain-bitmap reference with lowest-address first fit.
//
// Checked on every operation: every result (address, scavenged bytes, cache
// contents, released ranges), the counters, and the bitmap words of the
// chunks the operation touched. Every summary of the grown space is compared
// with one recomputed from the bitmaps every `fullCheckEvery` operations and
// at the end (a full recomputation per operation would take hours in a debug
// build); the same full check also compares every bitmap word.
@testable import PageAlloc
import Platform
import Testing

/// The reference: one alloc and one scavenged word array per grown chunk,
/// first fit by a straight scan of the grown ranges in address order.
struct Model {
    var slot: [UInt: Int] = [:]          // chunk → index of its 8 words
    var alloc: [UInt64] = []
    var scav: [UInt64] = []
    var ranges: [(lo: UInt, hi: UInt)] = []   // chunk ranges, merged, sorted
    var free = 0, scavenged = 0

    mutating func grow(_ lo: UInt, _ count: UInt) {
        for ci in lo..<(lo + count) {
            slot[ci] = alloc.count / 8
            alloc += [UInt64](repeating: 0, count: 8)
            scav += [UInt64](repeating: ~0, count: 8)
        }
        ranges.append((lo, lo + count))
        ranges.sort { $0.lo < $1.lo }
        var merged: [(lo: UInt, hi: UInt)] = []
        for r in ranges {
            if let last = merged.last, last.hi == r.lo { merged[merged.count - 1].hi = r.hi } else { merged.append(r) }
        }
        ranges = merged
        free += Int(count) * 512
        scavenged += Int(count) * 512
    }

    /// Whether `[page, page + n)` lies in one grown range with every page free.
    func freeAndGrown(_ page: UInt, _ n: UInt) -> Bool {
        guard ranges.contains(where: { $0.lo << 9 <= page && page + n <= $0.hi << 9 }) else { return false }
        return (page..<(page + n)).allSatisfy { !isAllocated($0) }
    }

    func index(_ page: UInt) -> (Int, UInt64) { (slot[page >> 9]! * 8 + Int((page & 511) >> 6), 1 << (page & 63)) }
    func isAllocated(_ page: UInt) -> Bool { let (w, b) = index(page); return alloc[w] & b != 0 }
    func isScavenged(_ page: UInt) -> Bool { let (w, b) = index(page); return scav[w] & b != 0 }

    /// Calls body(word index, mask) for each word [page, page+n) touches,
    /// looking the chunk up once per chunk.
    func forEachWord(_ page: UInt, _ n: UInt, _ body: (Int, UInt64) -> Void) {
        var p = page, left = n
        var chunk = UInt.max, base = 0
        while left > 0 {
            if p >> 9 != chunk { chunk = p >> 9; base = slot[chunk]! * 8 }
            let bit = p & 63
            let take = min(64 - bit, left)
            let mask: UInt64 = (take == 64 ? ~0 : (1 << UInt64(take)) - 1) << UInt64(bit)
            body(base + Int((p & 511) >> 6), mask)
            p += take
            left -= take
        }
    }

    /// Lowest first page of n free pages, or nil: a scan of the grown ranges
    /// in address order, a word at a time, run by run inside mixed words.
    func firstFit(_ n: UInt) -> UInt? {
        for r in ranges {
            var run: UInt = 0, start: UInt = 0
            for ci in r.lo..<r.hi {
                let s = slot[ci]! * 8
                for w in 0..<8 {
                    let word = alloc[s + w]
                    let page = ci << 9 + UInt(w) << 6
                    if word == 0 {
                        if run == 0 { start = page }
                        run += 64
                        if run >= n { return start }
                        continue
                    }
                    if word == ~0 { run = 0; continue }
                    var b: UInt = 0
                    while b < 64 {
                        let rest = word >> b
                        let freeLen = min(UInt(rest.trailingZeroBitCount), 64 - b)
                        if freeLen > 0 {
                            if run == 0 { start = page + b }
                            run += freeLen
                            if run >= n { return start }
                            b += freeLen
                        } else {
                            run = 0
                            b += min(UInt((~rest).trailingZeroBitCount), 64 - b)
                        }
                    }
                }
            }
        }
        return nil
    }

    /// Marks [page, page+n) allocated; returns how many were scavenged.
    mutating func allocate(_ page: UInt, _ n: UInt) -> Int {
        var s = 0, newlyUsed = 0
        var a = alloc, sc = scav
        alloc = []; scav = []
        forEachWord(page, n) { w, m in
            newlyUsed += (~a[w] & m).nonzeroBitCount
            s += (sc[w] & m).nonzeroBitCount
            a[w] |= m
            sc[w] &= ~m
        }
        alloc = a; scav = sc
        free -= newlyUsed
        scavenged -= s
        return s
    }

    mutating func release(_ page: UInt, _ n: UInt) {
        var a = alloc
        alloc = []
        forEachWord(page, n) { w, m in
            precondition(a[w] & m == m)
            a[w] &= ~m
        }
        alloc = a
        free += Int(n)
    }

    mutating func markScavenged(_ page: UInt, _ n: UInt) -> Bool {
        var ok = true
        forEachWord(page, n) { w, m in if (alloc[w] | scav[w]) & m != 0 { ok = false } }
        if !ok { return false }
        var sc = scav
        scav = []
        forEachWord(page, n) { w, m in sc[w] |= m }
        scav = sc
        scavenged += Int(n)
        return true
    }
}

struct Recording: PageReleaser {
    var ranges: [(UInt, Int)] = []
    mutating func release(base: UInt, bytes: Int) { ranges.append((base, bytes)) }
}

@Suite struct DifferentialTests {
    static let operations = 1_000_000
    static let fullCheckEvery = 2_500

    @Test func randomOperationsMatchTheReference() {
        var rng = SplitMix64(seed: 0x5EED_0003)
        var a = PageAllocator(pageSize: 8192)
        var m = Model()
        let top: UInt = 1 << (48 - 13 - 9)   // chunks in the 48-bit space
        // Arenas: a big one, a small one after a gap, one across the root
        // boundary at chunk BC+4096, one at the very top of the address space.
        let arenas: [(UInt, UInt)] = [(BC, 24), (BC + 27, 5), (BC + 4093, 6), (top - 4, 4)]
        for (lo, n) in arenas {
            a.grow(base: chunkAddress(lo), bytes: Int(n) * a.chunkSize)
            m.grow(lo, n)
        }
        let late: (UInt, UInt) = (BC + 32, 3)   // joins the second arena mid-run
        var live: [(page: UInt, n: UInt)] = []
        var caches: [PageCache] = [PageCache(), PageCache()]
        var cacheModel: [UInt64] = [0, 0]         // free bits the model expects in each cache
        var touched: [UInt] = []
        var failures = 0
        var stats = (allocs: 0, failedAllocs: 0, frees: 0, cacheFrees: 0, cacheAllocs: 0, refills: 0, scavenges: 0, grows: 0, grewInPlace: 0)

        func pageOf(_ address: UInt) -> UInt { address >> 13 }

        for op in 0..<DifferentialTests.operations {
            if op == DifferentialTests.operations / 3 {
                a.grow(base: chunkAddress(late.0), bytes: Int(late.1) * a.chunkSize)
                m.grow(late.0, late.1)
            }
            touched.removeAll(keepingCapacity: true)
            let total = m.slot.count * 512
            let usedFraction = Double(total - m.free) / Double(total)
            let roll = rng.below(100)
            let wantAlloc = usedFraction < 0.35 ? roll < 75 : usedFraction > 0.75 ? roll < 25 : roll < 50
            if roll >= 94 {
                // Page cache: allocate from one, or flush and refill it.
                let k = rng.below(2)
                if caches[k].isEmpty || rng.below(8) == 0 {
                    if !caches[k].isEmpty { touched.append(pageOf(caches[k].base) >> 9) }
                    // Model the flush, then the refill.
                    if !caches[k].isEmpty {
                        let first = pageOf(caches[k].base)
                        for i in 0..<UInt(64) where cacheModel[k] >> i & 1 == 1 { m.release(first + i, 1) }
                        // Scavenged bits come back with the pages: restore from the cache.
                    }
                    var flushed = caches[k]
                    let scavBack = flushed.scavenged & flushed.cache
                    a.flush(&flushed)
                    if scavBack != 0 {
                        let first = pageOf(caches[k].base)
                        for i in 0..<UInt(64) where scavBack >> i & 1 == 1 { _ = m.markScavenged(first + i, 1) }
                    }
                    caches[k] = a.allocToCache()
                    stats.refills += 1
                    if let p = m.firstFit(1) {
                        let block = p & ~63
                        let (w, _) = m.index(block)
                        let expectFree = ~m.alloc[w], expectScav = m.scav[w]
                        if caches[k].base != block << 13 || caches[k].cache != expectFree || caches[k].scavenged != expectScav {
                            Issue.record("op \(op): allocToCache got base \(caches[k].base) bits \(caches[k].cache), model block \(block << 13) bits \(expectFree)")
                            failures += 1
                        }
                        _ = m.allocate(block, 64)
                        cacheModel[k] = expectFree
                        touched.append(block >> 9)
                    } else {
                        if !caches[k].isEmpty { Issue.record("op \(op): allocToCache returned a block; the model has no free page"); failures += 1 }
                        cacheModel[k] = 0
                    }
                } else if rng.below(4) == 0 {
                    // Exactly the pages at an offset (a block growing in place inside the cache).
                    let e = UInt(rng.below(64)), n = UInt(1 + rng.below(8))
                    let scavBefore = caches[k].scavenged
                    let r = caches[k].allocate(base: caches[k].base + e << 13, pages: Int(n))
                    stats.cacheAllocs += 1
                    let mask: UInt64 = e + n <= 64 ? (n == 64 ? ~0 : (1 << UInt64(n)) - 1) << UInt64(e) : 0
                    if mask != 0 && cacheModel[k] & mask == mask {
                        cacheModel[k] &= ~mask
                        if r != (scavBefore & mask).nonzeroBitCount << 13 {
                            Issue.record("op \(op): cache allocate(base: +\(e), pages: \(n)) got \(String(describing: r))"); failures += 1
                        } else {
                            live.append((pageOf(caches[k].base) + e, n))
                        }
                    } else if r != nil {
                        Issue.record("op \(op): cache allocate(base: +\(e), pages: \(n)) got \(r!), model nil"); failures += 1
                    }
                } else {
                    let n = rng.below(4) == 0 ? UInt(1 + rng.below(8)) : 1
                    let scavBefore = caches[k].scavenged
                    let r = caches[k].allocate(pages: Int(n))
                    stats.cacheAllocs += 1
                    // Model: lowest run of n set bits in the cache's free bits.
                    var expect: UInt? = nil
                    var run: UInt = 0
                    for i in 0..<UInt(64) {
                        if cacheModel[k] >> i & 1 == 1 { run += 1; if run == n { expect = i + 1 - n; break } } else { run = 0 }
                    }
                    if let e = expect {
                        let mask: UInt64 = (n == 64 ? ~0 : (1 << UInt64(n)) - 1) << UInt64(e)
                        cacheModel[k] &= ~mask
                        let wantBase = caches[k].base + e << 13
                        let wantScav = (scavBefore & mask).nonzeroBitCount << 13
                        if r?.base != wantBase || r?.scavengedBytes != wantScav {
                            Issue.record("op \(op): cache allocate(\(n)) got \(String(describing: r)), model \(wantBase) scav \(wantScav)"); failures += 1
                        } else {
                            live.append((pageOf(wantBase), n))
                        }
                    } else if r != nil {
                        Issue.record("op \(op): cache allocate(\(n)) got \(r!), model nil"); failures += 1
                    }
                }
            } else if roll >= 90 {
                // Scavenge some bytes through a recording releaser.
                let bytes = (1 + rng.below(600)) << 13 - (rng.below(2) == 0 ? 100 : 0)
                var rec = Recording()
                let got = a.scavenge(bytes: bytes, releaser: &rec)
                stats.scavenges += 1
                var sum = 0
                for (base, len) in rec.ranges {
                    sum += len
                    let ok = base & 8191 == 0 && len > 0 && len & 8191 == 0 && m.markScavenged(pageOf(base), UInt(len >> 13))
                    if !ok { Issue.record("op \(op): released [\(base), +\(len)) was not free and unscavenged"); failures += 1 }
                    touched.append(pageOf(base) >> 9)
                }
                if sum != got || got > (bytes + 8191) & ~8191 || (got < bytes && m.scavenged != m.free) {
                    Issue.record("op \(op): scavenge(\(bytes)) = \(got), reported \(sum), model free \(m.free) scavenged \(m.scavenged)"); failures += 1
                }
            } else if roll >= 87 && !live.isEmpty {
                // Grow a live allocation in place into the pages after it.
                let i = rng.below(live.count)
                let (page, n) = live[i]
                let extra = UInt(1 + rng.below(rng.below(4) == 0 ? 600 : 12))
                let r = a.allocate(base: (page + n) << 13, pages: Int(extra))
                stats.grows += 1
                if m.freeAndGrown(page + n, extra) {
                    let sc = m.allocate(page + n, extra)
                    if r != sc << 13 {
                        Issue.record("op \(op): allocate(base: page \(page + n), pages: \(extra)) got \(String(describing: r)), model scav \(sc << 13)"); failures += 1
                    }
                    live[i] = (page, n + extra)
                    stats.grewInPlace += 1
                    touched.append((page + n) >> 9); touched.append((page + n + extra - 1) >> 9)
                } else if r != nil {
                    Issue.record("op \(op): allocate(base: page \(page + n), pages: \(extra)) got \(r!), model: not all free and grown"); failures += 1
                }
            } else if wantAlloc || live.isEmpty {
                let sizeRoll = rng.below(100)
                let n: UInt = sizeRoll < 55 ? UInt(1 + rng.below(8))
                    : sizeRoll < 85 ? UInt(9 + rng.below(120))
                    : sizeRoll < 97 ? UInt(129 + rng.below(900))
                    : UInt(1025 + rng.below(4000))
                let r = a.allocate(pages: Int(n))
                stats.allocs += 1
                let expect = m.firstFit(n)
                if let e = expect {
                    let s = m.allocate(e, n)
                    if r?.base != e << 13 || r?.scavengedBytes != s << 13 {
                        Issue.record("op \(op): allocate(\(n)) got \(String(describing: r)), model \(e << 13) scav \(s << 13)"); failures += 1
                    }
                    live.append((e, n))
                    touched.append(e >> 9); touched.append((e + n - 1) >> 9)
                } else {
                    stats.failedAllocs += 1
                    if r != nil { Issue.record("op \(op): allocate(\(n)) got \(r!), model nil"); failures += 1 }
                }
            } else {
                let i = rng.below(live.count)
                let (page, n) = live[i]
                var off: UInt = 0, k = n
                if n > 1 && rng.below(5) == 0 {
                    // Free part of an allocation; the rest stays live.
                    off = UInt(rng.below(Int(n)))
                    k = 1 + UInt(rng.below(Int(n - off)))
                }
                // Half the time a page cache whose block holds the run takes it
                // back (PageCache.free): the pages stay allocated in the model
                // and become the cache's.
                let address = (page + off) << 13
                var intoCache = false
                if k <= 64 && rng.below(2) == 0 {
                    for c in 0..<2 where !intoCache {
                        let b = caches[c].base
                        let fits = b != 0 && address >= b && (address - b) >> 13 + k <= 64
                        let got = caches[c].free(base: address, pages: Int(k))
                        if got != fits {
                            Issue.record("op \(op): cache \(c) free(base: \(address), pages: \(k)) = \(got), model \(fits)"); failures += 1
                        }
                        if got {
                            let e = (address - b) >> 13
                            cacheModel[c] |= (k == 64 ? ~0 : (1 << UInt64(k)) - 1) << UInt64(e)
                            intoCache = true
                            stats.cacheFrees += 1
                        }
                    }
                }
                if !intoCache {
                    a.free(base: address, pages: Int(k))
                    m.release(page + off, k)
                }
                stats.frees += 1
                live.swapAt(i, live.count - 1)
                live.removeLast()
                if off > 0 { live.append((page, off)) }
                if off + k < n { live.append((page + off + k, n - off - k)) }
                touched.append((page + off) >> 9); touched.append((page + off + k - 1) >> 9)
            }

            // Per operation: counters and the touched chunks' bitmap words.
            if a.freePages != m.free || a.scavengedPages != m.scavenged {
                Issue.record("op \(op): counters free \(a.freePages)/\(m.free) scavenged \(a.scavengedPages)/\(m.scavenged)"); failures += 1
            }
            for ci in touched {
                let s = m.slot[ci]! * 8
                for w in 0..<8 where a.chunks.alloc(ci).words[w] != m.alloc[s + w] || a.chunks.scavenged(ci).words[w] != m.scav[s + w] {
                    Issue.record("op \(op): chunk \(ci) word \(w) differs from the model"); failures += 1
                }
            }
            if op % DifferentialTests.fullCheckEvery == 0 || op == DifferentialTests.operations - 1 {
                failures += checkSummaries(a)
                for (ci, s) in m.slot {
                    for w in 0..<8 where a.chunks.alloc(ci).words[w] != m.alloc[s * 8 + w] || a.chunks.scavenged(ci).words[w] != m.scav[s * 8 + w] {
                        Issue.record("op \(op): full check: chunk \(ci) word \(w) differs"); failures += 1
                    }
                }
            }
            if failures > 20 { Issue.record("stopping after \(failures) failures at op \(op)"); return }
        }
        // Everything comes back: flush the caches, free what is live, and the
        // space is one free run per arena again.
        for k in 0..<2 { a.flush(&caches[k]) }
        for (page, n) in live { a.free(base: page << 13, pages: Int(n)) }
        #expect(a.freePages == a.grownPages)
        checkSummaries(a)
        #expect(a.allocate(pages: 29 * 512 + 3 * 512) == nil)
        #expect(a.allocate(pages: 24 * 512)?.base == chunkAddress(BC))
        #expect(a.allocate(pages: 8 * 512)?.base == chunkAddress(BC + 27))
        let ops = DifferentialTests.operations
        #expect(stats.allocs > ops * 3 / 10 && stats.frees > ops * 3 / 10 && stats.failedAllocs > 0 && stats.cacheFrees > 1000)
        #expect(stats.cacheAllocs > ops / 50 && stats.refills > ops / 200 && stats.scavenges > ops / 40)
        // In-place growth is tried often and both succeeds and fails.
        #expect(stats.grows > ops / 50 && stats.grewInPlace > 0 && stats.grewInPlace < stats.grows)
        print("PageAlloc differential: \(DifferentialTests.operations) ops: \(stats)")
    }
}
