// The goal's arithmetic (Go's gcPaceScavenger and mheap.grow's inline
// scavenge) and the pacer's (Go's bgscavenge), as tables.
import Scavenger
import Testing

@Suite struct GoalTests {
    let goal = ScavengeGoal(retainExtraPercent: 10, physicalPageSize: 4096)

    @Test func retainedGoalIsInUsePlusTenPercentRoundedToPhysicalPages() {
        #expect(goal.retainedGoal(inUseBytes: 0) == 0)
        #expect(goal.retainedGoal(inUseBytes: 100 << 20) == 110 << 20)
        #expect(goal.retainedGoal(inUseBytes: 1000) == 4096)             // 1100 → one page
        #expect(goal.retainedGoal(inUseBytes: 40960) == 45056)           // 45056 exactly
        #expect(goal.retainedGoal(inUseBytes: 40961) == 49152)
        #expect(ScavengeGoal(retainExtraPercent: 0).retainedGoal(inUseBytes: 8192) == 8192)
        #expect(ScavengeGoal(retainExtraPercent: 1_000_000).retainedGoal(inUseBytes: Int.max / 2) == Int.max)
    }

    @Test(arguments: [
        // (retained, inUse, want)
        (0, 0, 0),
        (110 << 20, 100 << 20, 0),                  // at the goal
        ((110 << 20) + 4095, 100 << 20, 0),         // under a page over: not worth it
        ((110 << 20) + 4096, 100 << 20, 4096),
        ((110 << 20) + 5000, 100 << 20, 8192),      // rounded up to pages
        (1 << 30, 0, 1 << 30),                      // everything free
        (1 << 30, 1 << 29, 483_180_544),           // 1 GiB − roundUp(512 MiB × 1.1)
    ])
    func backgroundWant(retained: Int, inUse: Int, want: Int) {
        #expect(goal.bytesToRelease(ScavengeFigures(retainedBytes: retained, inUseBytes: inUse)) == want)
    }

    @Test func growthReleasesWhatItPushesOverTheGoalAtMostTheGrowth() {
        let f = ScavengeFigures(retainedBytes: 100 << 20, inUseBytes: 100 << 20)
        #expect(goal.bytesToRelease(f, growingBy: 4 << 20) == 0)          // 104 ≤ 110
        #expect(goal.bytesToRelease(f, growingBy: 16 << 20) == 6 << 20)   // 116 − 110
        let idle = ScavengeFigures(retainedBytes: 64 << 20, inUseBytes: 0)
        #expect(goal.bytesToRelease(idle, growingBy: 4 << 20) == 4 << 20) // capped at the growth
    }

    @Test func memoryLimitReleasesEverythingAboveIt() {
        let limited = ScavengeGoal(retainExtraPercent: 10, memoryLimit: 100 << 20)
        // In use 95 MiB: the percent goal allows 104.5 MiB, the limit only 100 (95 for the worker).
        let f = ScavengeFigures(retainedBytes: 104 << 20, inUseBytes: 95 << 20)
        #expect(limited.bytesToRelease(f) == (104 << 20) - ((100 << 20) - (100 << 20) / 20))
        #expect(limited.isOverLimit(f))
        #expect(!limited.isOverLimit(ScavengeFigures(retainedBytes: 100 << 20, inUseBytes: 0)))
        // Growing by 8 MiB to 112: release 12 (down to the limit), more than the growth.
        #expect(limited.bytesToRelease(f, growingBy: 8 << 20) == 12 << 20)
    }
}

@Suite struct PacerTests {
    @Test func steadyStateSleepsNinetyNineTimesTheWork() {
        var p = ScavengePacer(targetFraction: 0.01)
        #expect(p.sleepNanoseconds(afterWork: 10_000) == 1_000_000)
        p.record(work: 10_000, slept: 990_000)
        #expect(abs(p.averageFraction - 0.01) < 1e-9)
        #expect(p.sleepNanoseconds(afterWork: 10_000) == 1_000_000)
    }

    @Test func oversleepingShortensTheNextSleepAndOverworkingLengthensIt() {
        var p = ScavengePacer(targetFraction: 0.01)
        p.record(work: 10_000, slept: 9_990_000)          // 0.1%: slept ten times too long
        #expect(p.sleepNanoseconds(afterWork: 10_000) < 1_000_000)
        var q = ScavengePacer(targetFraction: 0.01)
        q.record(work: 10_000, slept: 90_000)             // 10%: the sleep was cut short
        #expect(q.sleepNanoseconds(afterWork: 10_000) > 1_000_000)
    }

    @Test func workIsCappedAtTenMilliseconds() {
        let p = ScavengePacer(targetFraction: 0.01)
        #expect(p.sleepNanoseconds(afterWork: 5_000_000_000) == 1_000_000_000)
        #expect(p.sleepNanoseconds(afterWork: -5) == 0)
    }

    @Test func fractionHasAFloor() {
        var p = ScavengePacer(targetFraction: 0.01)
        for _ in 0..<50 { p.record(work: 1, slept: 1_000_000_000) }
        #expect(p.averageFraction >= 0.001 - 1e-12)
    }
}
