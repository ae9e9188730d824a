// ScavengePacer: how long the background worker sleeps after a piece of work so
// that it uses about `targetFraction` of one CPU — Go 1.14's bgscavenge loop:
//
//     adjust = ewma / ideal            // >1 when we worked more than planned
//     sleep  = adjust × crit / ideal
//     frac   = max(crit / (crit + slept), 1/1000)
//     ewma   = ½ × frac + ½ × ewma
//
// `crit` is the time the work took (capped at 10 ms, so a descheduled thread
// does not sleep for a second), `slept` the time actually slept. Go measures
// `crit` in wall time around the locked section; the worker here passes its own
// thread CPU time for the whole iteration (locks, madvise, the wait itself),
// which is what "1% of one CPU" means and what the tests measure. Owned by the
// worker thread alone; no lock.

/// Go's `bgscavenge` pacing: the sleep after each step, from the time the step took.
public struct ScavengePacer: Sendable, Equatable {
    /// The fraction of one CPU to use (Go's `scavengePercent / 100`: 0.01).
    public let targetFraction: Double
    /// Longest step counted, in ns (Go's `maxCrit`: 10 ms).
    public let maxWorkNanoseconds: Int
    /// Exponentially weighted moving average of the fraction achieved; starts
    /// at the target (no overhead assumed).
    public private(set) var averageFraction: Double

    public init(targetFraction: Double = 0.01, maxWorkNanoseconds: Int = 10_000_000) {
        self.targetFraction = min(max(targetFraction, 1e-6), 1)
        self.maxWorkNanoseconds = maxWorkNanoseconds
        averageFraction = self.targetFraction
    }

    /// Nanoseconds to sleep after a step that took `work` ns.
    public func sleepNanoseconds(afterWork work: Int) -> Int {
        let crit = Double(min(max(work, 0), maxWorkNanoseconds))
        let adjust = averageFraction / targetFraction
        let ns = adjust * crit / targetFraction
        return ns >= Double(Int.max / 2) ? Int.max / 2 : Int(ns)
    }

    /// Folds a step (`work` ns of work, then `slept` ns asleep) into the average.
    public mutating func record(work: Int, slept: Int) {
        let crit = Double(min(max(work, 0), maxWorkNanoseconds))
        let total = crit + Double(max(slept, 0))
        var fraction = total > 0 ? crit / total : targetFraction
        fraction = max(fraction, 1.0 / 1000.0)
        averageFraction = 0.5 * fraction + 0.5 * averageFraction
    }
}
