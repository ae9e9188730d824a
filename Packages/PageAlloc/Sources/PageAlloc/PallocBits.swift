// PallocBits: one chunk's 512-page bitmap (Go's pallocBits), seen through a
// pointer into the chunk map's mapped memory. Bit i of word k describes page
// 64k+i of the chunk. In the alloc bitmap 1 means in use, 0 means free; in the
// scavenged bitmap 1 means the page has been released (and is free).

import Platform

/// Pages per chunk (Go's pallocChunkPages) and its log.
@usableFromInline let chunkPagesLog: UInt = 9
@usableFromInline let chunkPages: UInt = 1 << 9
/// 64-bit words per chunk bitmap.
@usableFromInline let chunkWords = 8

/// A view of one chunk's 512-bit bitmap. The memory belongs to the chunk map;
/// this value only borrows it while the owner's lock is held.
@usableFromInline
struct PallocBits {
    @usableFromInline let words: UnsafeMutablePointer<UInt64>

    @inlinable init(_ words: UnsafeMutablePointer<UInt64>) { self.words = words }

    /// A mask of `n` bits starting at bit `i` of one word (`i + n <= 64`).
    @inlinable @inline(__always) static func mask(_ i: UInt, _ n: UInt) -> UInt64 {
        n == 64 ? ~0 : ((1 << UInt64(n)) - 1) << UInt64(i)
    }

    /// Calls `body(word, mask)` for every word that `[i, i+n)` touches.
    @inlinable @inline(__always) func forEachWord(_ i: UInt, _ n: UInt, _ body: (Int, UInt64) -> Void) {
        var i = i, n = n
        while n > 0 {
            let bit = BitIndex.offset(i)
            let take = min(64 - bit, n)
            body(BitIndex.word(i), PallocBits.mask(bit, take))
            i += take
            n -= take
        }
    }

    /// Sets bits `[i, i+n)`.
    @inlinable func setRange(_ i: UInt, _ n: UInt) {
        forEachWord(i, n) { w, m in words[w] |= m }
    }

    /// Clears bits `[i, i+n)`.
    @inlinable func clearRange(_ i: UInt, _ n: UInt) {
        forEachWord(i, n) { w, m in words[w] &= ~m }
    }

    /// Number of set bits in `[i, i+n)`.
    @inlinable func popcountRange(_ i: UInt, _ n: UInt) -> UInt {
        var c: UInt = 0
        forEachWord(i, n) { w, m in c += UInt((words[w] & m).nonzeroBitCount) }
        return c
    }

    /// The first clear bit in `[i, i+n)`, or nil when all are set.
    @usableFromInline func firstClear(_ i: UInt, _ n: UInt) -> UInt? {
        var found: UInt? = nil
        forEachWord(i, n) { w, m in
            if found == nil, (~words[w] & m) != 0 {
                found = UInt(BitIndex.firstBit(ofWord: w)) + UInt((~words[w] & m).trailingZeroBitCount)
            }
        }
        return found
    }

    /// The first set bit in `[i, i+n)`, or nil when all are clear.
    @usableFromInline func firstSet(_ i: UInt, _ n: UInt) -> UInt? {
        var found: UInt? = nil
        forEachWord(i, n) { w, m in
            if found == nil, (words[w] & m) != 0 {
                found = UInt(BitIndex.firstBit(ofWord: w)) + UInt((words[w] & m).trailingZeroBitCount)
            }
        }
        return found
    }

    @inlinable func setAll() { for w in 0..<chunkWords { words[w] = ~0 } }
    @inlinable func clearAll() { for w in 0..<chunkWords { words[w] = 0 } }

    /// The 64-bit word holding bit `i` (Go's pages64).
    @inlinable func word(containing i: UInt) -> UInt64 { words[BitIndex.word(i)] }

    /// The longest run of clear bits inside `x` (free pages in one alloc word),
    /// in at most 12 shift-and steps whatever the run's length. With `ones`
    /// the free bits, `cur` keeps the bits that start a run of at least
    /// `n + 1`; `cur & cur >> s` keeps those starting a run of at least
    /// `n + 1 + s`, which is exact while `s ≤ n + 1` (the two runs touch or
    /// overlap). So `s` doubles until no run is left, then halves back down.
    @inlinable static func longestZeroRun(_ x: UInt64) -> UInt {
        var cur = ~x
        if cur == 0 { return 0 }
        var n: UInt = 0, s: UInt = 1
        while s < 64 {
            let t = cur & cur >> UInt64(s)
            if t == 0 { break }
            cur = t
            n += s
            s <<= 1
        }
        s >>= 1
        while s > 0 {
            let t = cur & cur >> UInt64(s)
            if t != 0 { cur = t; n += s }
            s >>= 1
        }
        return n + 1
    }

    /// The summary of this alloc bitmap: free pages at the start, the longest
    /// free run anywhere, and free pages at the end (Go's summarize).
    @usableFromInline func summarize() -> PackedSummary {
        var start: UInt = 0, max: UInt = 0, run: UInt = 0
        var startDone = false
        for w in 0..<chunkWords {
            let x = words[w]
            if x == 0 {
                run += 64
                continue
            }
            let low = UInt(x.trailingZeroBitCount)
            run += low
            if !startDone { start = run; startDone = true }
            if run > max { max = run }
            // A run inside the word can beat max only if the word has more free bits.
            if UInt(64 - x.nonzeroBitCount) > max {
                let inner = PallocBits.longestZeroRun(x)
                if inner > max { max = inner }
            }
            run = UInt(x.leadingZeroBitCount)
        }
        if !startDone { return PackedSummary.freeChunk }
        if run > max { max = run }
        return PackedSummary(start: start, max: max, end: run)
    }

    /// The first position of `n` consecutive set bits in `x` (`1 <= n <= 64`),
    /// or 64 when there is none. Each round shortens every run of ones by
    /// the current width from the top, doubling the width each round, so a
    /// run survives at its first bit exactly when it was at least `n` long.
    @inlinable static func firstRunOfOnes(_ x: UInt64, _ n: UInt) -> UInt {
        var x = x
        var remaining = n - 1   // ones still to strip from the top of each run
        var width: UInt = 1
        while remaining > 0 {
            let s = min(remaining, width)
            x &= x >> UInt64(s)
            if x == 0 { return 64 }
            remaining -= s
            width <<= 1
        }
        return x == 0 ? 64 : UInt(x.trailingZeroBitCount)
    }

    /// Finds the first run of `n` free pages at or after `searchIdx`
    /// (pages below `searchIdx` are treated as in use). Returns the run's
    /// first page, or nil, and the first free page at or after `searchIdx`
    /// (`chunkPages` when there is none) — the new search hint.
    @usableFromInline func find(_ n: UInt, from searchIdx: UInt) -> (index: UInt?, firstFree: UInt) {
        var firstFree = chunkPages
        var runStart: UInt = 0, run: UInt = 0
        var w = BitIndex.word(searchIdx)
        while w < chunkWords {
            var x = words[w]
            if w == BitIndex.word(searchIdx) { x |= PallocBits.mask(0, BitIndex.offset(searchIdx)) }
            let base = UInt(BitIndex.firstBit(ofWord: w))
            if x == ~0 { run = 0; w += 1; continue }
            if firstFree == chunkPages { firstFree = base + UInt((~x).trailingZeroBitCount) }
            if x == 0 {
                if run == 0 { runStart = base }
                run += 64
                if run >= n { return (runStart, firstFree) }
                w += 1
                continue
            }
            // Free pages at the bottom of the word continue the current run.
            let low = UInt(x.trailingZeroBitCount)
            if run + low >= n {
                return (run == 0 ? base : runStart, firstFree)
            }
            // A run wholly inside the word.
            if n < 64 {
                let i = PallocBits.firstRunOfOnes(~x, n)
                if i < 64 { return (base + i, firstFree) }
            }
            run = UInt(x.leadingZeroBitCount)
            runStart = base + 64 - run
            w += 1
        }
        return (nil, firstFree)
    }
}
