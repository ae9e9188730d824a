// PeakWindow: the most bytes a pool of pages had in use over the last 1–2 s,
// which the retained goal follows instead of the in-use figure of the moment.
//
// Go keeps free memory up to the heap goal of the last GC cycle — the peak
// the program reached, not its figure at the scavenger's look — so a program
// that frees and reallocates the same memory within a cycle keeps its pages.
// A goal from the instantaneous in-use bytes releases, at every trough of
// such churn, pages the program takes again milliseconds later (page faults
// and zeroing: a 16-block live set of 256 KiB–4 MiB blocks ran 25% slower
// with the background worker than without it). The window keeps the peak of
// the last one to two seconds: a churning program keeps what its peaks need,
// and memory freed for good is released one to two seconds later — at once
// when the fall is larger than the goal's slack (``reset(to:now:)``, which
// the heap calls on the worker's shrink credit).
//
// Two buckets of `bucketNanoseconds` (1 s): the largest figure seen in the
// current one and in the one before. Owned by whoever holds the pool's lock.

/// The largest in-use figure of the last two buckets.
public struct PeakWindow: Sendable, Equatable {
    public let bucketNanoseconds: Int
    var bucketStart: Int?
    var currentMaximum = 0
    var previousMaximum = 0

    public init(bucketNanoseconds: Int = 1_000_000_000) {
        self.bucketNanoseconds = max(bucketNanoseconds, 1)
    }

    /// Records `peak` — the most bytes in use since the last observation —
    /// at `now` (monotonic ns) and returns the largest figure of the last
    /// one to two buckets, this one included.
    public mutating func observe(peak: Int, now: Int) -> Int {
        if let start = bucketStart {
            if now - start >= 2 * bucketNanoseconds {
                previousMaximum = 0          // nothing seen for a whole bucket
                currentMaximum = 0
                bucketStart = now
            } else if now - start >= bucketNanoseconds {
                previousMaximum = currentMaximum
                currentMaximum = 0
                bucketStart = start + bucketNanoseconds
            }
        } else {
            bucketStart = now
        }
        currentMaximum = max(currentMaximum, peak)
        return max(currentMaximum, previousMaximum)
    }

    /// The largest figure of the last one to two buckets, as last observed.
    public var peak: Int { max(currentMaximum, previousMaximum) }

    /// Forgets the peaks: the pool gave memory back for good, so the goal
    /// follows `inUse` from `now` on.
    public mutating func reset(to inUse: Int, now: Int) {
        bucketStart = now
        currentMaximum = inUse
        previousMaximum = 0
    }
}
