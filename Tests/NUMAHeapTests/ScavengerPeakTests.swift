// The retained goal follows a recent peak (HeapConfiguration.retainedPeakWindow):
// churn that frees memory and takes it back within the window keeps its pages;
// with a zero window the worker releases them at its looks' troughs. Wall-clock
// behaviour of the background worker, so in the timing suite.
import Glibc
import NUMAHeap
import Testing

extension ScavengerTimingTests {
@Suite struct ScavengerPeakTests {
    /// 16 MiB allocated, touched and freed every ~25 ms for 2 s.
    func churn(_ heap: Heap) throws -> (released: Int, rounds: Int) {
        heap.deallocate(try heap.allocate(byteCount: 64))   // the first growth starts the worker
        let released0 = heap.statistics.scavenger.releasedInBackgroundBytes
        let t0 = RSSScenario.clock()
        var rounds = 0
        var blocks: [UnsafeMutableRawPointer] = []
        while RSSScenario.clock() - t0 < 2_000_000_000 {
            try ScavengerChurn.round(heap, rounds, scratch: &blocks)
            rounds += 1
            usleep(20_000)
        }
        return (heap.statistics.scavenger.releasedInBackgroundBytes - released0, rounds)
    }

    @Test func churnWithinTheWindowKeepsItsPages() throws {
        let kept = try churn(try Heap())
        let zero = try churn(try Heap(configuration: HeapConfiguration(retainedPeakWindow: .zero)))
        print("peak window: released in background \(kept.released >> 20) MiB over \(kept.rounds) rounds with 1 s, \(zero.released >> 20) MiB over \(zero.rounds) with zero")
        // With the window the worker may release what the first growth left
        // over the goal, no more than one round's 16 MiB; without it, every
        // trough it sees.
        #expect(kept.released <= 16 << 20)
        #expect(zero.released >= 64 << 20)
    }
}
}
