// ShrinkWindow: which falls of the heap's in-use bytes earn the worker shrink
// credit (ScavengePacer.grant). Only a fall below the lowest figure of the
// last 0.1–0.2 s counts — memory that had stayed in use for a while and is
// now given back — so that churn whose in-use figure returns to its trough at
// least every tenth of a second (the steady state) earns nothing and the
// pacer's steady bound holds, while a program that frees what it held earns
// credit for it at the first look after the free.
//
// Two buckets of `bucketNanoseconds` (100 ms): the minimum of the figures seen
// in the current one and in the one before. Owned by the worker thread.

/// The lowest in-use figure of the last two buckets, and the falls below it.
public struct ShrinkWindow: Sendable, Equatable {
    public let bucketNanoseconds: Int
    var bucketStart: Int?
    var currentMinimum = Int.max
    var previousMinimum = Int.max

    public init(bucketNanoseconds: Int = 100_000_000) {
        self.bucketNanoseconds = max(bucketNanoseconds, 1)
    }

    /// Records the figure `inUse` seen at `now` (monotonic ns) and returns by
    /// how much it lies below the lowest figure of the previous 0.1–0.2 s (0
    /// when it does not, or on the first look).
    ///
    /// `lowest`: the fewest in-use bytes since the previous look, where the
    /// heap tracks it (it counts toward the window as if seen); the look's own
    /// figure otherwise. Sampled looks alone can miss a trough that recurs
    /// between them, and so grant credit for churn.
    public mutating func observe(inUse: Int, lowestSinceLastLook lowest: Int? = nil, now: Int) -> Int {
        guard let start = bucketStart else {
            bucketStart = now
            currentMinimum = min(inUse, lowest ?? inUse)
            return 0
        }
        if now - start >= 2 * bucketNanoseconds {
            // Nothing seen for a whole bucket: the last figure stands for both.
            previousMinimum = currentMinimum
            bucketStart = now
        } else if now - start >= bucketNanoseconds {
            previousMinimum = currentMinimum
            currentMinimum = .max
            bucketStart = start + bucketNanoseconds
        }
        // Until a whole bucket has passed, nothing is known to have stayed.
        let floor = previousMinimum == .max ? Int.max : min(previousMinimum, currentMinimum)
        // What this look saw joins the window after the comparison: the
        // trough since the last look too, so that churn whose troughs fall
        // between looks earns nothing at its next trough — while a fall that
        // stays (the trough is this figure) is granted now.
        currentMinimum = min(currentMinimum, inUse, lowest ?? inUse)
        return floor == .max ? 0 : max(floor - inUse, 0)
    }
}
