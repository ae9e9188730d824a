// The background worker over a fake target: it works down to the goal, goes
// idle, wakes, paces itself, stops and restarts.
import Glibc
import Scavenger
import Testing

/// A heap's figures in memory the test owns, behind a mutex.
final class FakeHeap: @unchecked Sendable {
    var lock = pthread_mutex_t()
    var retained: Int
    var inUse: Int
    var calls = 0
    var cycleEnds = 0
    /// CPU burnt per scavenge call, to exercise the pacing.
    let burnNanoseconds: Int
    init(retained: Int, inUse: Int, burnNanoseconds: Int = 0) {
        self.retained = retained
        self.inUse = inUse
        self.burnNanoseconds = burnNanoseconds
        pthread_mutex_init(&lock, nil)
    }
    func locked<R>(_ body: () -> R) -> R { pthread_mutex_lock(&lock); defer { pthread_mutex_unlock(&lock) }; return body() }
}

struct FakeTarget: ScavengeTarget {
    let heap: FakeHeap
    var retainedBytes: Int { heap.locked { heap.retained } }
    var inUseBytes: Int { heap.locked { heap.inUse } }
    func scavenge(bytes: Int) -> Int {
        let t0 = ThreadClock.cpuNanoseconds
        while ThreadClock.cpuNanoseconds - t0 < heap.burnNanoseconds {}
        return heap.locked {
            heap.calls += 1
            let free = max(heap.retained - heap.inUse, 0)
            let n = min(bytes, free)
            heap.retained -= n
            return n
        }
    }
    func scavengeCycleEnded() { heap.locked { heap.cycleEnds += 1 } }
}

func waitUntil(seconds: Double, _ condition: () -> Bool) -> Bool {
    let deadline = ThreadClock.monotonicNanoseconds + Int(seconds * 1e9)
    while ThreadClock.monotonicNanoseconds < deadline {
        if condition() { return true }
        usleep(2_000)
    }
    return condition()
}

@Suite(.serialized) struct WorkerTests {
    @Test func worksDownToTheGoalThenIdlesAndWakes() throws {
        let heap = FakeHeap(retained: 64 << 20, inUse: 10 << 20)
        let worker = try #require(ScavengeWorker.create(target: FakeTarget(heap: heap), configuration: .init()))
        defer { worker.destroy() }
        #expect(!worker.statistics.isRunning)               // nothing before start()
        #expect(worker.start())
        #expect(worker.start())                             // idempotent
        #expect(waitUntil(seconds: 5) { heap.locked { heap.retained } <= 11 << 20 })
        #expect(waitUntil(seconds: 2) { heap.locked { heap.cycleEnds } == 1 })
        var s = worker.statistics
        #expect(s.isRunning && s.cycles == 1)
        #expect(s.releasedBytes == (64 << 20) - heap.locked { heap.retained })
        #expect(s.steps >= 26)                              // 53 MiB in 2 MiB steps
        // At the goal it only polls.
        let calls = heap.locked { heap.calls }
        usleep(200_000)
        #expect(heap.locked { heap.calls } == calls)
        // Frees lower the goal: a new cycle.
        heap.locked { heap.inUse = 0 }
        worker.wake()
        #expect(waitUntil(seconds: 5) { heap.locked { heap.retained } == 0 })
        #expect(waitUntil(seconds: 2) { worker.statistics.cycles == 2 })
        worker.stop()
        s = worker.statistics
        #expect(!s.isRunning)
        #expect(s.cpuNanoseconds > 0)
        // Restartable.
        heap.locked { heap.retained = 8 << 20 }
        #expect(worker.start())
        #expect(waitUntil(seconds: 5) { heap.locked { heap.retained } == 0 })
        worker.stop()
        worker.stop()                                       // idempotent
    }

    @Test func pacesItselfToAboutOnePercentOfACPU() throws {
        // Each step burns 1 ms of CPU: unpaced, the worker would use a whole CPU.
        // No burst credit: Go's pacing alone (the burst is tested below).
        let heap = FakeHeap(retained: 1 << 40, inUse: 0, burnNanoseconds: 1_000_000)
        let worker = try #require(ScavengeWorker.create(target: FakeTarget(heap: heap),
                                                        configuration: .init(burstCreditNanoseconds: 0)))
        defer { worker.destroy() }
        worker.start()
        usleep(100_000)
        let c0 = worker.statistics.cpuNanoseconds, t0 = ThreadClock.monotonicNanoseconds
        usleep(1_500_000)
        let c1 = worker.statistics.cpuNanoseconds, t1 = ThreadClock.monotonicNanoseconds
        worker.stop()
        let fraction = Double(c1 - c0) / Double(t1 - t0)
        #expect(fraction < 0.02, "worker used \(fraction * 100)% of a CPU")
        #expect(fraction > 0.002, "worker used \(fraction * 100)% of a CPU")
    }

    @Test func spendsItsBurstCreditWithoutSleepingThenStaysWithinTheBound() throws {
        // 1 ms steps with endless work: the first ~50 (the 50 ms credit) run
        // back to back, then one per ~100 ms. At every moment its CPU clock is
        // within ScavengePacer's bound, C + f·W + s, W counted from before
        // start() and s the longest activity so far (the 1 ms burn plus the
        // loop's own cost), which the worker measures itself.
        let cap = 50_000_000
        let heap = FakeHeap(retained: 1 << 40, inUse: 0, burnNanoseconds: 1_000_000)
        let worker = try #require(ScavengeWorker.create(
            target: FakeTarget(heap: heap), configuration: .init(burstCreditNanoseconds: cap)))
        defer { worker.destroy() }
        let t0 = ThreadClock.monotonicNanoseconds
        worker.start()
        var worst = 0.0
        var s = worker.statistics
        while ThreadClock.monotonicNanoseconds - t0 < 1_500_000_000 {
            usleep(10_000)
            s = worker.statistics
            let wall = ThreadClock.monotonicNanoseconds - t0
            let bound = Double(cap) + 0.01 * Double(wall) + Double(s.longestActivityNanoseconds)
            worst = max(worst, Double(s.cpuNanoseconds) / bound)
        }
        worker.stop()
        s = worker.statistics
        print("burst: \(s.burstSteps) burst steps of \(s.steps), CPU \(Double(s.cpuNanoseconds) / 1e6) ms in 1.5 s, at most \(worst * 100)% of the bound; longest activity \(Double(s.longestActivityNanoseconds) / 1e6) ms, credit \(Double(s.creditNanoseconds) / 1e6) ms")
        #expect(worst <= 1.0)
        #expect(s.longestActivityNanoseconds < 10_000_000)  // a step, not a stall (Go's maxCrit)
        #expect(s.burstSteps >= 45 && s.burstSteps <= 55)   // 50 ms of credit in ~1 ms steps
        #expect(s.steps > s.burstSteps)                     // then paced
        #expect(s.cpuNanoseconds >= 50_000_000)             // and the credit was spent
    }

    @Test func overTheMemoryLimitItDoesNotSleep() throws {
        let heap = FakeHeap(retained: 256 << 20, inUse: 0, burnNanoseconds: 200_000)
        let goal = ScavengeGoal(retainExtraPercent: 10, memoryLimit: 64 << 20)
        let worker = try #require(ScavengeWorker.create(target: FakeTarget(heap: heap), configuration: .init(goal: goal)))
        defer { worker.destroy() }
        worker.start()
        // 96 steps over the limit at 0.2 ms each: paced at 1% that would take ~2 s.
        #expect(waitUntil(seconds: 1) { heap.locked { heap.retained } <= 64 << 20 })
        worker.stop()
        #expect(worker.statistics.unpacedSteps >= 90)
    }
}
