// The goal's arithmetic (Go's gcPaceScavenger and mheap.grow's inline
// scavenge) and the pacer's (Go's bgscavenge), as tables.
import Platform
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

/// The burst credit (a token bucket over Go's pacing), on a simulated clock.
@Suite struct BurstCreditTests {
    let ms = 1_000_000

    @Test func aFullBucketIsSpentWithoutSleepingThenGoPacingTakesOver() {
        var p = ScavengePacer(targetFraction: 0.01, creditCapNanoseconds: 50 * ms)
        var now = 1_000 * ms
        p.charge(work: 0, now: now)                       // starts full
        #expect(p.creditNanoseconds == Double(50 * ms))
        // 1 ms steps back to back: 50 ms of credit + 1% of the 50 ms they take.
        var bursts = 0
        var sleep = 0
        while true {
            now += ms
            sleep = p.pause(afterWork: ms, now: now)
            if sleep > 0 { break }
            bursts += 1
        }
        #expect(bursts == 50)
        // The first paced sleep repays the debt and is at least Go's.
        #expect(sleep >= p.sleepNanoseconds(afterWork: ms))
        #expect(sleep == p.repayNanoseconds || sleep == p.sleepNanoseconds(afterWork: ms))
        #expect(sleep >= 95 * ms && sleep <= 101 * ms)
        // The burst did not disturb Go's average.
        #expect(p.averageFraction == 0.01)
        // Steady state: Go's sleep (~99 ms after 1 ms) with the debt repaid;
        // a step may go without a sleep when Go's sleeps left a little credit.
        let start = now
        var paced = 0
        for _ in 0..<1000 {
            if sleep > 0 {
                #expect(sleep >= 97 * ms && sleep <= 101 * ms, "sleep \(sleep)")
                now += sleep
                p.record(work: ms, slept: sleep)
                paced += 1
            }
            now += ms
            sleep = p.pause(afterWork: ms, now: now)
        }
        let fraction = 1000 * Double(ms) / Double(now - start)
        #expect(fraction > 0.0099 && fraction <= 0.0101, "fraction \(fraction)")
        #expect(paced >= 980, "paced \(paced)")
    }

    @Test func theCreditIsCappedAndRefillsAtTheTargetFraction() {
        var p = ScavengePacer(targetFraction: 0.01, creditCapNanoseconds: 50 * ms)
        p.charge(work: 0, now: 0)
        p.charge(work: 0, now: 100_000 * ms)              // 100 s idle: still 50 ms
        #expect(p.creditNanoseconds == Double(50 * ms))
        p.charge(work: 50 * ms, now: 100_000 * ms)        // spent
        #expect(p.creditNanoseconds == 0)
        p.charge(work: 0, now: 102_000 * ms)              // 2 s later: 20 ms
        #expect(abs(p.creditNanoseconds - Double(20 * ms)) < 1)
        p.charge(work: 30 * ms, now: 102_000 * ms)        // 10 ms of debt: 1 s to repay
        #expect(p.repayNanoseconds == 1_000 * ms)
        #expect(p.pause(afterWork: 0, now: 102_500 * ms) == 500 * ms)
        // The clock never runs backwards for the credit.
        p.charge(work: 0, now: 0)
        #expect(p.creditTime == 102_500 * ms)
    }

    @Test func noCapIsGoPacingWithTheDebtRepaid() {
        var p = ScavengePacer(targetFraction: 0.01, creditCapNanoseconds: 0)
        p.charge(work: 0, now: 0)
        // A 30 ms step: Go counts 10 ms (1 s of sleep); the debt needs 3 s
        // (nothing accrues while the bucket is at its cap of 0).
        let sleep = p.pause(afterWork: 30 * ms, now: 30 * ms)
        #expect(p.sleepNanoseconds(afterWork: 30 * ms) == 1_000 * ms)
        #expect(sleep == 3_000 * ms)
    }

    /// WorkerTimingTests.pacesItselfToAboutOnePercentOfACPU on a simulated
    /// clock: 1 ms steps with endless work and no credit, the worker's protocol
    /// (pause, sleep what it says, record), 1000 steps: about 1% of one CPU,
    /// never more, and no step begins in debt.
    @Test func withoutCreditEndlessOneMillisecondStepsUseOnePercent() {
        var p = ScavengePacer(targetFraction: 0.01, creditCapNanoseconds: 0)
        var now = 5_000 * ms
        p.charge(work: 0, now: now)
        let start = now
        var debtAtStart = 0
        var sleeps = [Int]()
        for _ in 0..<1000 {
            p.charge(work: 0, now: now)                   // the activity begins: credit brought up to now
            if p.creditNanoseconds < 0 { debtAtStart += 1 }
            now += ms                                     // 1 ms of work (as CPU and as wall time)
            let sleep = p.pause(afterWork: ms, now: now)
            sleeps.append(sleep)
            now += sleep
            p.record(work: ms, slept: sleep)
        }
        let fraction = 1000 * Double(ms) / Double(now - start)
        #expect(fraction > 0.0098 && fraction <= 0.0100 + 1e-9, "fraction \(fraction)")
        #expect(sleeps.min()! >= 99 * ms && sleeps.max()! <= 101 * ms, "sleeps \(sleeps.min()!)...\(sleeps.max()!) ns")
        #expect(debtAtStart == 0)
    }

    @Test func stepsAboveTheMemoryLimitSpendTheCreditButLeaveNoDebt() {
        var p = ScavengePacer(targetFraction: 0.01, creditCapNanoseconds: 50 * ms)
        p.charge(work: 0, now: 0)
        p.chargeUnpaced(work: 20 * ms, now: 20 * ms)       // accrual stops at the cap
        #expect(p.creditNanoseconds == Double(30 * ms))
        p.chargeUnpaced(work: 200 * ms, now: 220 * ms)
        #expect(p.creditNanoseconds == 0)
        #expect(p.repayNanoseconds == 0)
    }

    /// The invariant of ScavengePacer: a worker that follows its protocol (no
    /// sleep while credit is left, otherwise sleep at least what `pause` says,
    /// repay before looking again when idle) uses at most C + f·W of CPU over
    /// any window W ending between activities, and C + f·W + w over one ending
    /// in an activity of cost w. Simulated over 20 min of steps of 0.05–30 ms
    /// (past Go's 10 ms cap), descheduled steps, oversleeping, idle stretches
    /// and wake-ups, with a fixed seed.
    @Test(arguments: [(0.01, 50_000_000), (0.01, 0), (0.05, 10_000_000)])
    func cpuOverAnyWindowIsAtMostTheCapPlusTheFractionOfTheWindow(fraction: Double, cap: Int) {
        var rng = SplitMix64(seed: 0x5CA7_E4)
        var p = ScavengePacer(targetFraction: fraction, creditCapNanoseconds: cap)
        let f = fraction, c = Double(cap)
        var t = 0, cpu = 0               // wall clock and the worker's CPU clock
        // Over every window that starts when an activity starts: the most of
        // f·start − cpu(start) seen so far (the bound is checked in O(n)).
        var bestStart = -Double.infinity
        var activities = 0, lengthened = 0, bursts = 0, violations = 0
        var busy = true
        var phaseEnd = 0
        while t < 1_200_000 * ms {
            if t >= phaseEnd {          // alternate busy and idle stretches of 0.1–20 s
                busy.toggle()
                phaseEnd = t + Int.random(in: 100 * ms...20_000 * ms, using: &rng)
            }
            // One activity: starts at t with cpu, takes w of CPU over d of wall time.
            bestStart = max(bestStart, f * Double(t) - Double(cpu))
            // The activity begins with credit ≥ 0 (what the protocol promises).
            let creditNow = min(c, p.creditNanoseconds + f * Double(t - (p.creditTime ?? t)))
            if creditNow < -1 { violations += 1 }
            let w: Int = busy
                ? (Int.random(in: 0..<10, using: &rng) == 0 ? Int.random(in: 10 * ms...30 * ms, using: &rng)
                                                          : Int.random(in: ms / 20...2 * ms, using: &rng))
                : Int.random(in: ms / 100...ms / 10, using: &rng)
            let d = w * Int.random(in: 1...3, using: &rng)    // descheduled for part of it
            t += d
            cpu += w
            activities += 1
            // Windows from any activity start to this activity's end.
            let used = Double(cpu) - f * Double(t) + bestStart
            if used > c + Double(w) + 1 { violations += 1 }
            if busy {
                let sleep = p.pause(afterWork: w, now: t)
                if sleep == 0 { bursts += 1; continue }
                if sleep > p.sleepNanoseconds(afterWork: w) { lengthened += 1 }
                let slept = sleep + sleep / 4 * Int.random(in: 0...4, using: &rng)  // oversleeps
                t += slept
                p.record(work: w, slept: slept)
            } else {
                p.charge(work: w, now: t)
                let repay = p.repayNanoseconds
                t += repay
                t += Int.random(in: 0...4, using: &rng) == 0 ? Int.random(in: 0...50 * ms, using: &rng) : 50 * ms
            }
            // Windows from any activity start to now, between activities.
            if Double(cpu) - f * Double(t) + bestStart > c + 1 { violations += 1 }
        }
        #expect(violations == 0)
        #expect(activities > 10_000)
        // The scenario exercises both parts: bursts, and sleeps longer than
        // Go's (steps over its 10 ms cap) — without them Go's pacing alone
        // would break the bound.
        if cap > 0 { #expect(bursts > 100) }
        #expect(lengthened > 100)
        // And the worker was not starved: over the 20 min it used at least
        // half of what the busy stretches allowed.
        #expect(Double(cpu) > 0.2 * f * Double(t))
    }
}
