// The pacer's shrink credit: CPU granted in proportion to the bytes the heap's
// in-use figure fell, above the burst cap and up to its own cap, dropped when
// the worker goes idle; accrual never adds to a surplus.
import Scavenger
import Testing

@Suite struct ShrinkCreditTests {
    let mib = Double(1 << 20)

    @Test func aShrinkGrantsCreditAboveTheBurstCap() {
        var p = ScavengePacer(targetFraction: 0.01, creditCapNanoseconds: 90_000_000,
                              shrinkNanosecondsPerByte: 150_000 / mib, shrinkCapNanoseconds: 1_000_000_000)
        #expect(p.creditNanoseconds == 90_000_000)          // starts full
        p.grant(shrinkBytes: 1 << 30)                        // 1 GiB freed: 1024 × 150 µs more
        #expect(abs(p.creditNanoseconds - 243_600_000) < 1)
        // A step of 100 ms leaves credit: no sleep (the burst goes on).
        #expect(p.pause(afterWork: 100_000_000, now: 1_000) == 0)
        // Accrual does not add to a surplus above the cap.
        p.charge(work: 0, now: 10_000_000_000)
        #expect(abs(p.creditNanoseconds - 143_600_000) < 1)
        // Idle: the surplus goes.
        p.dropShrinkSurplus()
        #expect(p.creditNanoseconds == 90_000_000)
    }

    @Test func grantsStopAtTheirCapAndNothingIsGrantedWithoutAShrink() {
        var p = ScavengePacer(targetFraction: 0.01, creditCapNanoseconds: 90_000_000,
                              shrinkNanosecondsPerByte: 150_000 / mib, shrinkCapNanoseconds: 200_000_000)
        p.grant(shrinkBytes: 64 << 30)                       // 9.6 s worth, capped at 200 ms above C
        #expect(p.creditNanoseconds == 290_000_000)
        p.grant(shrinkBytes: 0)
        p.grant(shrinkBytes: -5)
        #expect(p.creditNanoseconds == 290_000_000)
        // Off by default: Go's pacing with the burst bucket, as before.
        var off = ScavengePacer(targetFraction: 0.01, creditCapNanoseconds: 90_000_000)
        off.grant(shrinkBytes: 1 << 30)
        #expect(off.creditNanoseconds == 90_000_000)
    }

    /// Steady churn (in-use level): the bound is the bucket's, C + f·W (+ one step).
    @Test func withoutShrinksTheWindowBoundIsTheBucketsOwn() {
        var p = ScavengePacer(targetFraction: 0.01, creditCapNanoseconds: 90_000_000,
                              shrinkNanosecondsPerByte: 150_000 / mib, shrinkCapNanoseconds: 1_000_000_000)
        // 1 ms steps back to back for 10 s of simulated time, sleeping as told.
        var now = 0, used = 0
        while now < 10_000_000_000 {
            let work = 1_000_000
            used += work
            now += work
            now += p.pause(afterWork: work, now: now)
        }
        #expect(used <= 90_000_000 + 100_000_000 + 1_000_000, "\(used) ns of CPU in 10 s")
    }
}

/// Which falls of the in-use figure count: below the lowest of the last
/// 0.1–0.2 s only.
@Suite struct ShrinkWindowTests {
    let ms = 1_000_000

    @Test func memoryHeldForAWhileThenFreedCounts() {
        var w = ShrinkWindow()
        #expect(w.observe(inUse: 0, now: 0) == 0)
        // Grows to 1 GiB over 400 ms, looked at every 50 ms…
        for i in 1...8 { _ = w.observe(inUse: i << 27, now: i * 50 * ms) }
        // …held for 600 ms…
        for i in 9...20 { #expect(w.observe(inUse: 1 << 30, now: i * 50 * ms) == 0) }
        // …then freed: the whole gigabyte counts, once.
        #expect(w.observe(inUse: 0, now: 1_050 * ms) == 1 << 30)
        #expect(w.observe(inUse: 0, now: 1_100 * ms) == 0)
    }

    @Test func churnThatReturnsToItsTroughEarnsNothing() {
        var w = ShrinkWindow()
        // 16 MiB allocated and freed every 28 ms, looked at every 7 ms: the
        // trough recurs within every bucket.
        var granted = 0
        for t in 0..<2_000 {
            let phase = (t * 7) % 28
            granted += w.observe(inUse: phase < 7 ? 16 << 20 : 0, now: t * 7 * ms)
        }
        #expect(granted == 0)
    }

    @Test func aFallAfterALongGapCountsFromTheLastFigure() {
        var w = ShrinkWindow()
        _ = w.observe(inUse: 64 << 20, now: 0)
        // No look for 2 s (an idle worker polls; a test may not): the last
        // figure is the window's.
        #expect(w.observe(inUse: 0, now: 2_000 * ms) == 64 << 20)
    }
}

extension ShrinkWindowTests {
    /// A fall right after a fast growth counts from the figure of 0.1–0.2 s
    /// before: most of the memory, not the part grown within the window.
    @Test func aFreeRightAfterTheGrowthCountsWhatStoodBeforeTheWindow() {
        var w = ShrinkWindow()
        _ = w.observe(inUse: 0, now: 0)
        for i in 1...10 { _ = w.observe(inUse: i * (100 << 20), now: i * 50 * ms) }  // 1000 MiB after 500 ms
        let granted = w.observe(inUse: 0, now: 520 * ms)
        #expect(granted >= 700 << 20 && granted <= 1000 << 20, "\(granted >> 20) MiB")
    }
}

extension ShrinkWindowTests {
    /// Looks that happen to land on the churn's peaks see no trough; the heap's
    /// low-water mark since the previous look does, and nothing is granted.
    @Test func troughsBetweenLooksCountThroughTheLowWaterMark() {
        var sampled = ShrinkWindow(), marked = ShrinkWindow()
        var grantedSampled = 0, grantedMarked = 0
        // Looks every 150 ms: peaks (16 MiB) four times in a row, then a trough.
        for k in 0..<40 {
            let inUse = k % 5 == 4 ? 0 : 16 << 20
            grantedSampled += sampled.observe(inUse: inUse, now: k * 150 * ms)
            grantedMarked += marked.observe(inUse: inUse, lowestSinceLastLook: 0, now: k * 150 * ms)
        }
        #expect(grantedSampled > 0)      // what sampling alone would grant
        #expect(grantedMarked == 0)
    }
}
