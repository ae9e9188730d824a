// SummaryLevels: the radix tree of packed summaries (Go's pageAlloc.summary),
// five flat arrays, one per level, in one reservation for the whole 48-bit
// address space, committed lazily by grow.
//
// Level 4 (the leaves) has one summary per chunk (512 pages); each level above
// has one summary per 8 of the level below, so level l's summaries describe
// 2^(21 - 3l) pages and the root's describe 2^21 pages (16 GiB at 8 KiB pages).
// The root level's width depends on the page size: 2^48 bytes / pageSize /
// 2^21 pages, e.g. 2^14 entries at 8 KiB.
import Platform

/// Number of radix levels (Go's summaryLevels on 64-bit).
@usableFromInline let summaryLevelCount = 5
/// Radix bits per level below the root (Go's summaryLevelBits).
@usableFromInline let summaryLevelBits: UInt = 3

@usableFromInline
struct SummaryLevels {
    /// The reservation: level 0, then level 1, … level 4, each 8 bytes an entry.
    /// Written only by grow (commit) and update, under the owner's lock.
    /// Entries of chunks never grown read as 0 (no free pages) where committed,
    /// and are never read where not: searches only descend through non-zero
    /// parents, and the root level is committed whole at init.
    @usableFromInline let base: UnsafeMutablePointer<UInt64>
    /// log2 of the root level's entry count.
    @usableFromInline let rootBits: UInt
    /// Bytes reserved at `base`.
    @usableFromInline let reservedBytes: Int

    /// log2 of the pages a summary at `level` describes: 21, 18, 15, 12, 9.
    @inlinable @inline(__always) static func logPages(_ level: Int) -> UInt { 21 - 3 * UInt(level) }
    /// How far a chunk index shifts right to index `level`.
    @inlinable @inline(__always) static func chunkShift(_ level: Int) -> UInt { 3 * UInt(summaryLevelCount - 1 - level) }

    @inlinable @inline(__always) func entries(_ level: Int) -> Int { 1 << (Int(rootBits) + 3 * level) }
    /// Entries before `level` in the reservation: 2^rootBits × (8^level − 1) / 7.
    @inlinable @inline(__always) func offset(_ level: Int) -> Int { (((1 << (3 * level)) - 1) / 7) << Int(rootBits) }

    @inlinable @inline(__always) func pointer(_ level: Int, _ index: Int) -> UnsafeMutablePointer<UInt64> {
        base + (offset(level) + index)
    }

    @inlinable @inline(__always) subscript(level: Int, index: Int) -> PackedSummary {
        get { PackedSummary(raw: pointer(level, index).pointee) }
        nonmutating set { pointer(level, index).pointee = newValue.raw }
    }

    /// Reserves the levels for `chunkBits` bits of chunk index and commits the root.
    init(chunkBits: UInt) {
        rootBits = chunkBits - 3 * UInt(summaryLevelCount - 1)
        let total = (((1 << (3 * summaryLevelCount)) - 1) / 7) << Int(rootBits)
        let page = SystemMemory.physicalPageSize
        reservedBytes = (total * 8 + page - 1) & ~(page - 1)
        switch SystemMemory.reserve(bytes: reservedBytes) {
        case .success(let p): base = p.bindMemory(to: UInt64.self, capacity: total)
        case .failure(let e):
            FatalMessage("PageAlloc: cannot reserve ").decimal(reservedBytes)
                .text(" bytes for the summary levels: errno ").decimal(Int(e.code)).crash()
        }
        commitEntries(level: 0, 0, entries(0))
    }

    /// Commits the summaries covering chunks `[lo, hi)` at every level, each
    /// level's range widened to whole blocks of 8 (the unit a search reads).
    func commit(chunks lo: Int, _ hi: Int) {
        for level in 1..<summaryLevelCount {
            let s = Int(SummaryLevels.chunkShift(level))
            let a = (lo >> s) & ~7
            let b = (((hi - 1) >> s) + 1 + 7) & ~7
            commitEntries(level: level, a, b)
        }
    }

    func commitEntries(level: Int, _ lo: Int, _ hi: Int) {
        let page = UInt(SystemMemory.physicalPageSize)
        let from = UInt(bitPattern: pointer(level, lo)) & ~(page - 1)
        let to = (UInt(bitPattern: pointer(level, hi)) + page - 1) & ~(page - 1)
        if case .failure(let e) = SystemMemory.commit(UnsafeMutableRawPointer(bitPattern: from)!, bytes: Int(to - from)) {
            FatalMessage("PageAlloc: cannot commit summary level ").decimal(level).text(" at ").hex(from)
                .text(" (").decimal(Int(to - from)).text(" bytes): errno ").decimal(Int(e.code)).crash()
        }
    }

    func release() {
        _ = SystemMemory.unmap(UnsafeMutableRawPointer(base), bytes: reservedBytes)
    }
}
