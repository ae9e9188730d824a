// Pacing: over a 10 s churn that keeps giving the worker memory to release,
// its own thread CPU clock stays at or below 2% of one CPU.
import Glibc
import NUMAHeap
import Testing

@Suite struct ScavengerPacingTests {
    @Test func workerUsesAtMostTwoPercentOfACPUDuringTenSecondsOfChurn() throws {
        let heap = try Heap()
        func now() -> Int { RSSScenario.clock() }
        var blocks: [UnsafeMutableRawPointer] = []
        // Warm up: the first growth starts the worker.
        heap.deallocate(try heap.allocate(byteCount: 64))
        let cpu0 = heap.statistics.scavenger.cpuNanoseconds, steps0 = heap.statistics.scavenger.steps
        let t0 = now()
        var rounds = 0
        while now() - t0 < 10_000_000_000 {
            // Grow to 64 MiB, touch it, drop it: the worker always has work.
            for k in 0..<32 {
                let p = try heap.allocate(byteCount: (2 << 20) - (k % 4) * 4096)
                memset(p, Int32(rounds & 0xFF), 4096)
                memset(p + (1 << 20), 1, 4096)
                blocks.append(p)
            }
            for p in blocks { heap.deallocate(p) }
            blocks.removeAll(keepingCapacity: true)
            rounds += 1
            usleep(20_000)
        }
        let s = heap.statistics.scavenger
        let wall = now() - t0
        let fraction = Double(s.cpuNanoseconds - cpu0) / Double(wall)
        print("pacing: worker CPU \(Double(s.cpuNanoseconds - cpu0) / 1e6) ms over \(Double(wall) / 1e9) s = \(fraction * 100)% of one CPU; steps \(s.steps - steps0), released in background \(s.releasedInBackgroundBytes >> 20) MiB, \(rounds) rounds")
        #expect(fraction <= 0.02)
        #expect(s.steps - steps0 > 10)           // it did work, paced
    }
}
