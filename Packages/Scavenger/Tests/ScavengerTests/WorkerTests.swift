// The background worker over a fake target: it works down to the goal, goes
// idle, wakes, stops and restarts, and steps over the memory limit unpaced —
// checked by what the worker did (calls, looks, counters), not by how long it
// took. How much CPU it uses per wall-clock second is WorkerTimingTests' (run
// by .ci/run's timing step, NUMAHEAP_TIMING_TESTS=1); the pacer's arithmetic
// behind it is tested on a simulated clock in GoalAndPacerTests.
import Glibc
import Scavenger
import Testing

/// A heap's figures in memory the test owns, behind a mutex; every change is
/// broadcast on a condition variable, so a test waits for the worker's next
/// call instead of sleeping.
final class FakeHeap: @unchecked Sendable {
    var lock = pthread_mutex_t()
    var changed = pthread_cond_t()
    var retained: Int
    var inUse: Int
    var calls = 0
    var cycleEnds = 0
    /// Times the worker read the figures (once per activity: a step or an idle look).
    var looks = 0
    /// CPU burnt per scavenge call, to exercise the pacing.
    let burnNanoseconds: Int
    init(retained: Int, inUse: Int, burnNanoseconds: Int = 0) {
        self.retained = retained
        self.inUse = inUse
        self.burnNanoseconds = burnNanoseconds
        pthread_mutex_init(&lock, nil)
        var attr = pthread_condattr_t()
        pthread_condattr_init(&attr)
        pthread_condattr_setclock(&attr, CLOCK_MONOTONIC)
        pthread_cond_init(&changed, &attr)
        pthread_condattr_destroy(&attr)
    }
    func locked<R>(_ body: () -> R) -> R {
        pthread_mutex_lock(&lock)
        defer { pthread_cond_broadcast(&changed); pthread_mutex_unlock(&lock) }
        return body()
    }
    /// Waits until `condition` (evaluated under the lock) holds, or `seconds`
    /// pass — a bound against a hang, not a timing requirement. Returns whether it holds.
    func waitUntil(seconds: Double = 20, _ condition: () -> Bool) -> Bool {
        let deadline = ThreadClock.monotonicNanoseconds + Int(seconds * 1e9)
        var ts = timespec(tv_sec: deadline / 1_000_000_000, tv_nsec: deadline % 1_000_000_000)
        pthread_mutex_lock(&lock)
        defer { pthread_mutex_unlock(&lock) }
        while !condition() {
            if pthread_cond_timedwait(&changed, &lock, &ts) == ETIMEDOUT { return condition() }
        }
        return true
    }
}

struct FakeTarget: ScavengeTarget {
    let heap: FakeHeap
    var retainedBytes: Int { heap.locked { heap.retained } }
    var inUseBytes: Int { heap.locked { heap.inUse } }
    var figures: ScavengeFigures {
        heap.locked {
            heap.looks += 1
            return ScavengeFigures(retainedBytes: heap.retained, inUseBytes: heap.inUse)
        }
    }
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

/// Whether the wall-clock timing tests run: NUMAHEAP_TIMING_TESTS=1 (.ci/run's
/// timing step runs them alone, one at a time, on an otherwise idle machine).
let timingTestsEnabled = getenv("NUMAHEAP_TIMING_TESTS").map { String(cString: $0) == "1" } ?? false

@Suite(.serialized) struct WorkerTests {
    @Test func worksDownToTheGoalThenIdlesAndWakes() throws {
        let heap = FakeHeap(retained: 64 << 20, inUse: 10 << 20)
        let worker = try #require(ScavengeWorker.create(target: FakeTarget(heap: heap), configuration: .init()))
        defer { worker.destroy() }
        #expect(!worker.statistics.isRunning)               // nothing before start()
        #expect(worker.start())
        #expect(worker.start())                             // idempotent
        #expect(heap.waitUntil { heap.retained <= 11 << 20 })
        // The cycle ends in the activity after the last release, whose counters are set by then.
        #expect(heap.waitUntil { heap.cycleEnds >= 1 })
        var s = worker.statistics
        #expect(s.isRunning && s.cycles == 1)
        #expect(s.releasedBytes == (64 << 20) - heap.locked { heap.retained })
        #expect(s.steps >= 26)                              // 53 MiB in 2 MiB steps
        #expect(s.steps == heap.locked { heap.calls })      // every call released something
        // At the goal it only looks: three more looks at the figures, no scavenge call.
        let (calls, looks) = heap.locked { (heap.calls, heap.looks) }
        #expect(heap.waitUntil { heap.looks >= looks + 3 })
        #expect(heap.locked { heap.calls } == calls, "the worker scavenged at the goal")
        // Frees lower the goal: a new cycle.
        heap.locked { heap.inUse = 0 }
        worker.wake()
        #expect(heap.waitUntil { heap.retained == 0 })
        #expect(heap.waitUntil { heap.cycleEnds >= 2 })
        #expect(worker.statistics.cycles == 2)
        worker.stop()
        s = worker.statistics
        #expect(!s.isRunning)
        #expect(s.cpuNanoseconds > 0)
        // Restartable.
        heap.locked { heap.retained = 8 << 20 }
        #expect(worker.start())
        #expect(heap.waitUntil { heap.retained == 0 })
        worker.stop()
        worker.stop()                                       // idempotent
    }

    @Test func overTheMemoryLimitEveryStepIsUnpaced() throws {
        // 256 MiB retained, nothing in use, a 64 MiB limit: the goal is to
        // release everything; the 96 steps of 2 MiB taken above the limit skip
        // the pacer (no sleep, no debt), the 32 below it are paced as usual
        // (here all within the burst credit: 32 × 0.2 ms ≪ 90 ms).
        let heap = FakeHeap(retained: 256 << 20, inUse: 0, burnNanoseconds: 200_000)
        let goal = ScavengeGoal(retainExtraPercent: 10, memoryLimit: 64 << 20)
        let worker = try #require(ScavengeWorker.create(target: FakeTarget(heap: heap), configuration: .init(goal: goal)))
        defer { worker.destroy() }
        worker.start()
        #expect(heap.waitUntil { heap.retained == 0 && heap.cycleEnds >= 1 })
        worker.stop()
        let s = worker.statistics
        #expect(s.steps == 128)
        #expect(s.unpacedSteps == 96, "steps above the limit: \(s.unpacedSteps) unpaced of \(s.steps)")
        #expect(s.unpacedSteps + s.burstSteps == s.steps)
        #expect(s.sleptNanoseconds == 0)
        #expect(s.releasedBytes == 256 << 20)
    }
}

/// The worker's CPU share over wall-clock time: meaningful only on a machine
/// with nothing else running, so not part of the default `swift test`.
@Suite(.serialized, .enabled(if: timingTestsEnabled, "wall-clock timing: NUMAHEAP_TIMING_TESTS=1 (.ci/run's timing step)"))
struct WorkerTimingTests {
    @Test func pacesItselfToAboutOnePercentOfACPU() throws {
        // Each step burns 1 ms of CPU: unpaced, the worker would use a whole CPU.
        // No burst credit: Go's pacing alone (the burst is tested below).
        let heap = FakeHeap(retained: 1 << 40, inUse: 0, burnNanoseconds: 1_000_000)
        let worker = try #require(ScavengeWorker.create(target: FakeTarget(heap: heap),
                                                        configuration: .init(burstCreditNanoseconds: 0)))
        defer { worker.destroy() }
        worker.start()
        #expect(heap.waitUntil { heap.calls >= 1 })
        // Measured over 1.5 s of wall time (the sleep is the measuring window).
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
            usleep(10_000)   // sampling interval
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
        let worker = try #require(ScavengeWorker.create(target: FakeTarget(heap: heap),
                                                        configuration: .init(goal: goal, burstCreditNanoseconds: 0)))
        defer { worker.destroy() }
        worker.start()
        // 96 steps over the limit at 0.2 ms each: paced at 1% that would take ~2 s.
        #expect(heap.waitUntil(seconds: 1) { heap.retained <= 64 << 20 })
        worker.stop()
        #expect(worker.statistics.unpacedSteps >= 90)
    }
}
