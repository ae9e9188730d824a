// A thread's free-object bins grow when they fill (within the thread's
// budget) and go back to their starting limits when emptied.

@_spi(NUMAHeapInternals) import NUMAHeap
import Testing

@Suite struct ThreadBinGrowthTests {
    /// 8 KiB blocks start with a bin of 4; a run of 32 frees grows it to 32
    /// (256 KiB), so all 32 come back from the bin, newest first.
    @Test func aFullBinGrowsAndServesTheBatchBack() throws {
        let heap = try Heap()
        let blocks = try (0..<32).map { _ in try heap.allocate(byteCount: 8192) }
        let sizeClass = try #require(heap.core.threadBinLimits()).limits.indices.first {
            HeapCore.sizeClassBytes($0) == 8192
        }
        let c = try #require(sizeClass)
        #expect(try #require(heap.core.threadBinLimits()).starting[c] == 4)
        for p in blocks { heap.deallocate(p) }
        let grown = try #require(heap.core.threadBinLimits())
        #expect(grown.limits[c] == 32)
        #expect(grown.budgetLeft == HeapCore.binGrowthBudgetBytes - 28 * 8192)
        let again = try (0..<32).map { _ in try heap.allocate(byteCount: 8192) }
        #expect(again == blocks.reversed())
        for p in again { heap.deallocate(p) }
        heap.flushThreadCache()
        let flushed = try #require(heap.core.threadBinLimits())
        #expect(flushed.limits == flushed.starting)
        #expect(flushed.budgetLeft == HeapCore.binGrowthBudgetBytes)
    }

    /// Frees of every size class, many of each: no bin passes its cap, and the
    /// bytes the bins grew by are exactly the budget spent, never more than
    /// the budget.
    @Test func growthStaysWithinTheThreadsBudget() throws {
        let heap = try Heap()
        heap.deallocate(try heap.allocate(byteCount: 16))  // the thread's cache
        let classes = try #require(heap.core.threadBinLimits()).starting.count
        var spentSomewhere = false
        for c in 1..<classes {
            let size = HeapCore.sizeClassBytes(c)
            guard size >= 16 else { continue }
            let blocks = try (0..<600).map { _ in try heap.allocate(byteCount: size) }
            for (i, p) in blocks.enumerated() {
                p.storeBytes(of: UInt(i), as: UInt.self)  // the program writes what it owns
                heap.deallocate(p)
            }
            let now = try #require(heap.core.threadBinLimits())
            var grownBytes = 0
            for k in 1..<classes {
                let s = HeapCore.sizeClassBytes(k)
                #expect(now.limits[k] >= now.starting[k])
                #expect(now.limits[k] <= max(now.starting[k], min(1024, (256 << 10) / s)))
                grownBytes += (now.limits[k] - now.starting[k]) * s
            }
            #expect(now.budgetLeft >= 0)
            #expect(grownBytes + now.budgetLeft == HeapCore.binGrowthBudgetBytes)
            if grownBytes > 0 { spentSomewhere = true }
        }
        #expect(spentSomewhere)
        // The budget ran out before every class grew to its cap.
        let end = try #require(heap.core.threadBinLimits())
        #expect(end.budgetLeft < 64 << 10)
        heap.flushThreadCache()
        let flushed = try #require(heap.core.threadBinLimits())
        #expect(flushed.limits == flushed.starting)
        #expect(heap.statistics.liveObjects == 0)
    }

    /// Under `.full` nothing is binned, so nothing grows.
    @Test func theFullTierNeverBins() throws {
        let heap = try Heap(configuration: HeapConfiguration(checks: .full))
        let blocks = try (0..<64).map { _ in try heap.allocate(byteCount: 8192) }
        for p in blocks { heap.deallocate(p) }
        let limits = try #require(heap.core.threadBinLimits())
        #expect(limits.limits.allSatisfy { $0 == 0 })
        #expect(limits.budgetLeft == HeapCore.binGrowthBudgetBytes)
    }
}
