/// The largest maximum small size a page size (and waste bound) allows.
public enum SizeClassLimits {
    /// The largest grid size `m` ≤ 65535 such that the table for every grid
    /// max small size from 1024 through `m` fits Go's field widths (16-bit
    /// divmagic, `uint16` sizes, `uint8` page counts), for `parameters`'
    /// page size and waste bound. Returns 0 if even 1024 does not fit.
    ///
    /// The table for max small size `m` is the walk of
    /// ``SizeClassAlgorithm/candidates(_:through:visit:)`` stopped at `m`, so
    /// one walk visits every candidate table; each (size, pages) pair is
    /// checked once.
    public static func largestMaxSmallSize(for parameters: SizeClassParameters) -> Int {
        let pageSize = parameters.pageSize
        var verdicts: [SizeClassAlgorithm.Candidate: Bool] = [:]
        func fits(_ candidate: SizeClassAlgorithm.Candidate) -> Bool {
            if let known = verdicts[candidate] { return known }
            let ok = (try? SizeClassAlgorithm.finish(candidate, previousSize: 0, pageSize: pageSize)) != nil
            verdicts[candidate] = ok
            return ok
        }
        var largest = 0
        var settledFit = true      // every class but the last fits
        var settledCount = 0
        _ = SizeClassAlgorithm.candidates(parameters, through: Int(UInt16.max)) { size, classes in
            // Classes before the last no longer change: fold them in.
            while settledCount < classes.count - 1 {
                settledFit = settledFit && fits(classes[settledCount])
                settledCount += 1
            }
            guard settledFit, fits(classes[classes.count - 1]), classes.count + 1 <= Int(UInt8.max) + 1 else {
                return false
            }
            if size >= SizeClassParameters.smallSizeMax { largest = size }
            return true
        }
        return largest
    }
}
