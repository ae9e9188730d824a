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
    @inlinable
    static func merge(_ children: UnsafePointer<UInt64>, count: Int, logChildPages: UInt) -> PackedSummary {
        let first = PackedSummary(raw: children[0])
        var start = first.start, max = first.max, end = first.end
        let childPages: UInt = 1 << logChildPages
        for i in 1..<count {
            let c = PackedSummary(raw: children[i])
            let cs = c.start, cm = c.max, ce = c.end
            // The start run continues only while every child so far was all free.
            if start == UInt(i) << logChildPages { start += cs }
            // A run crossing the boundary: the previous end plus this start.
            if end + cs > max { max = end + cs }
            if cm > max { max = cm }
            end = ce == childPages ? end + childPages : ce
        }
        return PackedSummary(start: start, max: max, end: end)
    }
}
