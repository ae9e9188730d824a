// ScavengePacer: how long the background worker sleeps after a piece of work so
// that it uses about `targetFraction` (f) of one CPU. Two parts:
//
// 1. Go 1.14's bgscavenge loop, for the steady state:
//
//        adjust = ewma / f                // >1 when we worked more than planned
//        sleep  = adjust × crit / f
//        frac   = max(crit / (crit + slept), 1/1000)
//        ewma   = ½ × frac + ½ × ewma
//
//    `crit` is the time the work took (capped at 10 ms, so a descheduled thread
//    does not sleep for a second), `slept` the time actually slept. Go measures
//    `crit` in wall time around the locked section; the worker here passes its
//    own thread CPU time for the whole iteration (locks, madvise, the wait
//    itself), which is what "1% of one CPU" means and what the tests measure.
//
// 2. Burst credit, a token bucket of CPU time over it. The credit B (ns of CPU)
//    accrues at f × wall time — while the worker idles, sleeps or works — up to
//    a cap C (`creditCapNanoseconds`, default 90 ms = 9 s of 1%), starts full,
//    and is charged every ns of CPU the worker uses (`work`: its thread CPU
//    clock between two calls, everything included). After a step the worker
//    does not sleep while B > 0 (a burst: releasing 1 GiB of 4 KiB pages costs
//    80–100 ms of madvise here, which Go's 1% alone spreads over 8–10 s); once B is
//    spent, Go's pacing decides the sleep, but a sleep never ends before the
//    debt is repaid (sleep ≥ −B/f), and an idle worker repays before its next
//    look. So every activity (a look at the figures, and at most one step)
//    begins with B ≥ 0.
//
// INVARIANT (what the bucket guarantees, whatever the EWMA does — steps over
// its 10 ms cap, sleeps cut short, a descheduled thread): over any wall-clock
// window of length W, the worker's CPU time is at most
//
//        C + f × W + s
//
// where s is the cost of the one activity in progress at the window's end (≤
// one quantum's release: ~1 ms for 8 MiB of 4 KiB pages), and at most C + f × W
// for windows that end between activities. Proof sketch, with B_k the credit
// after the charge at the k-th call, at time t_k: B_k = min(C, B_{k−1} + f ×
// (t_k − t_{k−1})) − w_k, so Σ_{i<k≤j} w_k ≤ B_i − B_j + f × (t_j − t_i) ≤
// C + f × W + w_j, since B_i ≤ C and activity j began with credit ≥ 0. With
// C = 90 ms and f = 1%: at most 190 ms + s (1.9% of one CPU, 2% with a 10 ms
// step) over any 10 s, and up to 140 ms within the first 5 s after a large
// free that finds the bucket full — ~1 GiB of 4 KiB pages
// (ScavengeWorker.Configuration says why 90).
//
// 3. Shrink credit. When the heap's in-use bytes fall below their lowest figure
//    of the last 0.1–0.2 s (ShrinkWindow) — a program freeing what it had
//    held for a while — the worker is granted k CPU ns per byte they fell
//    (`grant(shrinkBytes:)`, k = the cost of releasing a byte of 4 KiB pages,
//    ~250 ms per GiB by default), up to `shrinkCapNanoseconds` above the bucket's
//    cap, so memory a program gives back returns to the system within a
//    second or two rather than at 1%. The surplus above C is dropped when the
//    worker goes idle. The bound becomes
//
//        C + f × W + s + k × (in-use bytes freed within W)
//
//    — under steady churn (an in-use figure that returns to its trough at
//    least every 0.1 s, however much it allocates and frees in between)
//    exactly the bound above; a burst after the heap shrinks by S costs at
//    most k × S more: about what the program's own page faults cost when it
//    takes that memory again.
//
// Steps taken above the memory limit are not paced (Go does the same); they
// spend the credit but leave no debt (`chargeUnpaced`), and are outside the
// bound. Burst steps are not folded into the EWMA (they sleep by design not at
// all; Go's average would otherwise read 100% and over-sleep for a while after).
//
// Owned by the worker thread alone; no lock.

/// Go's `bgscavenge` pacing with a burst credit: the sleep after each step,
/// from the CPU time the step took and the monotonic clock.
public struct ScavengePacer: Sendable, Equatable {
    /// The fraction of one CPU to use (Go's `scavengePercent / 100`: 0.01).
    public let targetFraction: Double
    /// Longest step counted by Go's pacing, in ns (Go's `maxCrit`: 10 ms). The
    /// credit counts every ns.
    public let maxWorkNanoseconds: Int
    /// The most CPU time the worker may save up for a burst, in ns (C in the
    /// file comment); 0 turns bursts off (Go's pacing, with debt repaid).
    public let creditCapNanoseconds: Int
    /// CPU ns granted per byte the heap's in-use figure fell (k in the file
    /// comment); 0 turns shrink credit off.
    public let shrinkNanosecondsPerByte: Double
    /// The most shrink credit held above ``creditCapNanoseconds``, in ns.
    public let shrinkCapNanoseconds: Int
    /// Exponentially weighted moving average of the fraction achieved; starts
    /// at the target (no overhead assumed).
    public private(set) var averageFraction: Double
    /// CPU ns the worker may still use without sleeping; negative: a debt the
    /// next sleep repays. Starts full.
    public private(set) var creditNanoseconds: Double
    /// The monotonic time the credit was brought up to; nil before the first call.
    public private(set) var creditTime: Int?

    public init(targetFraction: Double = 0.01, maxWorkNanoseconds: Int = 10_000_000,
                creditCapNanoseconds: Int = 90_000_000,
                shrinkNanosecondsPerByte: Double = 0, shrinkCapNanoseconds: Int = 0) {
        self.targetFraction = min(max(targetFraction, 1e-6), 1)
        self.maxWorkNanoseconds = maxWorkNanoseconds
        self.creditCapNanoseconds = max(creditCapNanoseconds, 0)
        self.shrinkNanosecondsPerByte = max(shrinkNanosecondsPerByte, 0)
        self.shrinkCapNanoseconds = max(shrinkCapNanoseconds, 0)
        averageFraction = self.targetFraction
        creditNanoseconds = Double(self.creditCapNanoseconds)
    }

    /// Go's sleep after a step that took `work` ns (no credit involved).
    public func sleepNanoseconds(afterWork work: Int) -> Int {
        let crit = Double(min(max(work, 0), maxWorkNanoseconds))
        let adjust = averageFraction / targetFraction
        return Self.nanoseconds(adjust * crit / targetFraction)
    }

    /// Nanoseconds of sleep that bring the credit back to zero (0 when it is not
    /// negative).
    public var repayNanoseconds: Int {
        creditNanoseconds >= 0 ? 0 : Self.nanoseconds((-creditNanoseconds / targetFraction).rounded(.up))
    }

    /// Brings the credit up to `now` (monotonic ns: f × the time since the last
    /// call, capped) and charges `work` ns of CPU used since the last call.
    public mutating func charge(work: Int, now: Int) {
        if let last = creditTime, now > last {
            // Accrual stops at the cap; shrink credit above it is kept.
            let accrued = Double(now - last) * targetFraction
            creditNanoseconds = max(creditNanoseconds, min(creditNanoseconds + accrued, Double(creditCapNanoseconds)))
        }
        if creditTime == nil || now > creditTime! { creditTime = now }
        creditNanoseconds -= Double(max(work, 0))
    }

    /// After a step that took `work` ns of CPU and ended at `now`: charges it
    /// and returns the sleep — 0 while credit is left (a burst), otherwise Go's
    /// sleep, lengthened to repay the debt.
    public mutating func pause(afterWork work: Int, now: Int) -> Int {
        charge(work: work, now: now)
        if creditNanoseconds > 0 { return 0 }
        return max(sleepNanoseconds(afterWork: work), repayNanoseconds)
    }

    /// The heap's in-use bytes fell by `shrinkBytes` since the worker last
    /// looked: k × that much CPU, up to ``shrinkCapNanoseconds`` above the cap.
    public mutating func grant(shrinkBytes: Int) {
        guard shrinkBytes > 0, shrinkNanosecondsPerByte > 0 else { return }
        let ceiling = Double(creditCapNanoseconds) + Double(shrinkCapNanoseconds)
        creditNanoseconds = max(creditNanoseconds, min(creditNanoseconds + Double(shrinkBytes) * shrinkNanosecondsPerByte, ceiling))
    }

    /// The worker went idle: shrink credit it did not spend is dropped.
    public mutating func dropShrinkSurplus() {
        creditNanoseconds = min(creditNanoseconds, Double(creditCapNanoseconds))
    }

    /// A step above the memory limit (not paced): it spends the credit but
    /// leaves no debt.
    public mutating func chargeUnpaced(work: Int, now: Int) {
        charge(work: work, now: now)
        creditNanoseconds = max(creditNanoseconds, 0)
    }

    /// Folds a paced step (`work` ns of work, then `slept` ns asleep) into Go's average.
    public mutating func record(work: Int, slept: Int) {
        let crit = Double(min(max(work, 0), maxWorkNanoseconds))
        let total = crit + Double(max(slept, 0))
        var fraction = total > 0 ? crit / total : targetFraction
        fraction = max(fraction, 1.0 / 1000.0)
        averageFraction = 0.5 * fraction + 0.5 * averageFraction
    }

    static func nanoseconds(_ ns: Double) -> Int {
        ns >= Double(Int.max / 2) ? Int.max / 2 : Int(max(ns, 0))
    }
}
