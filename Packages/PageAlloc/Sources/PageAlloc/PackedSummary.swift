// PackedSummary: Go's pallocSum. Three 21-bit fields — free pages at the start
// of a region, the longest free run in it, free pages at its end — packed in
// one UInt64 so a block of 8 children fills one 64-byte cache line.

/// Bits per summary field (Go's logMaxPackedValue): the root level's regions
/// hold 2^21 pages, which needs 22 bits, so "all 2^21 free" has its own encoding.
@usableFromInline let summaryFieldBits: UInt64 = 21
@usableFromInline let summaryMaxValue: UInt = 1 << 21

/// A radix-tree summary of a region of pages. The zero value means "no free
/// page"; bit 63 alone means "all 2^21 pages free" (start = max = end = 2^21).
@usableFromInline
struct PackedSummary: Equatable {
    @usableFromInline var raw: UInt64

    @inlinable init(raw: UInt64) { self.raw = raw }

    /// Packs three counts, each at most 2^21; max == 2^21 implies all three are.
    @inlinable init(start: UInt, max: UInt, end: UInt) {
        if max == summaryMaxValue {
            raw = 1 << 63
            return
        }
        let m = UInt64(summaryMaxValue - 1)
        raw = (UInt64(start) & m) | (UInt64(max) & m) << summaryFieldBits | (UInt64(end) & m) << (2 * summaryFieldBits)
    }

    /// The summary of a chunk with all 512 pages free.
    @inlinable static var freeChunk: PackedSummary { PackedSummary(start: chunkPages, max: chunkPages, end: chunkPages) }
    @inlinable static var full: PackedSummary { PackedSummary(raw: 0) }

    @inlinable var allFreeEncoding: Bool { raw & (1 << 63) != 0 }
    @inlinable var start: UInt { allFreeEncoding ? summaryMaxValue : UInt(raw & UInt64(summaryMaxValue - 1)) }
    @inlinable var max: UInt { allFreeEncoding ? summaryMaxValue : UInt(raw >> summaryFieldBits & UInt64(summaryMaxValue - 1)) }
    @inlinable var end: UInt { allFreeEncoding ? summaryMaxValue : UInt(raw >> (2 * summaryFieldBits) & UInt64(summaryMaxValue - 1)) }

    /// Merges `count` consecutive child summaries, each describing
    /// 2^`logChildPages` pages, into their parent's summary (Go's mergeSummaries).
    /// Children are never root-level summaries (`logChildPages` ≤ 18), so none
    /// uses the all-free encoding and each field is a plain 21-bit value, and
    /// each child is a few selects with no branch (``MergeAccumulator``),
    /// unrolled for the 8 children `update` always merges. That cut the
    /// instructions of `update` (merges included) by a quarter against the
    /// loop that decoded each field with the all-free check.
    @inlinable
    static func merge(_ children: UnsafePointer<UInt64>, count: Int, logChildPages: UInt) -> PackedSummary {
        var acc = MergeAccumulator(logChildPages: logChildPages)
        if count == 8 {  // every call from update: unrolled
            acc.add(children[0]); acc.add(children[1]); acc.add(children[2]); acc.add(children[3])
            acc.add(children[4]); acc.add(children[5]); acc.add(children[6]); acc.add(children[7])
        } else {
            for i in 0..<count { acc.add(children[i]) }
        }
        return PackedSummary(start: UInt(acc.start), max: UInt(acc.max), end: UInt(acc.end))
    }
}

/// The running start, longest and end runs of ``PackedSummary/merge(_:count:logChildPages:)``.
@usableFromInline
struct MergeAccumulator {
    @usableFromInline let childPages: UInt64
    @usableFromInline var start: UInt64 = 0, max: UInt64 = 0, end: UInt64 = 0
    /// Every child so far was all free.
    @usableFromInline var prefixFree = true

    @inlinable init(logChildPages: UInt) { childPages = UInt64(1) << UInt64(logChildPages) }

    @inlinable @inline(__always)
    mutating func add(_ raw: UInt64) {
        let m = UInt64(summaryMaxValue - 1)
        let cs = raw & m, cm = raw >> summaryFieldBits & m, ce = raw >> (2 * summaryFieldBits) & m
        // The start run continues only while every child so far was all free.
        start &+= prefixFree ? cs : 0
        prefixFree = prefixFree && cs == childPages
        // A run crossing the boundary: the previous end plus this start.
        max = Swift.max(max, Swift.max(end &+ cs, cm))
        end = ce == childPages ? end &+ childPages : ce
    }
}
