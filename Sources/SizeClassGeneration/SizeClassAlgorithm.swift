/// The steps of Go 1.14's `mksizeclasses.go`, one function each, so that the
/// table builder and the limit search share them.
///
/// 1. Walk the sizes: 8-byte steps, then 16 from 16 B, size/8 from 128 B and
///    256 from 2 KiB (the step changes only at powers of two).
/// 2. For each size, grow the span a page at a time until the tail it leaves
///    is at most `maxWaste` of the span (`allocsize % size <= ⌊allocsize·w⌋`).
/// 3. If the previous class has the same page count and the same number of
///    objects, this size replaces it (the larger size wastes nothing more).
/// 4. Afterwards grow every class to the largest size that still fits the
///    same object count in its span, rounded down to 128 B.
/// 5. Compute the divmagic of each class.
public enum SizeClassAlgorithm {
    /// A class before growth: size and page count.
    public struct Candidate: Hashable, Sendable {
        public var size: Int
        public var pages: Int
    }

    /// Steps 1–3 for every size up to `maxSmallSize`. `visit` sees the list
    /// after each size is processed (its last element may still change), and
    /// may stop the walk by returning false. Class 0 is not included.
    public static func candidates(
        _ parameters: SizeClassParameters,
        through maxSmallSize: Int,
        visit: (_ size: Int, _ classes: [Candidate]) -> Bool = { _, _ in true }
    ) -> [Candidate] {
        let pageSize = parameters.pageSize
        var classes: [Candidate] = []
        var align = 8
        var size = align
        while size <= maxSmallSize {
            if size & (size - 1) == 0 {
                if size >= 2048 {
                    align = 256
                } else if size >= 128 {
                    align = size / 8
                } else if size >= 16 {
                    align = 16
                }
            }

            var allocSize = pageSize
            while allocSize % size > parameters.maxWaste.floorOfProduct(with: allocSize) {
                allocSize += pageSize
            }
            let pages = allocSize / pageSize

            if let last = classes.last, last.pages == pages, allocSize / size == allocSize / last.size {
                classes[classes.count - 1].size = size
            } else {
                classes.append(Candidate(size: size, pages: pages))
            }
            if !visit(size, classes) { break }
            size += align
        }
        return classes
    }

    /// Step 4: the largest multiple of 128 that fits as many objects in the
    /// span as `candidate.size` does, if that is larger.
    public static func grownSize(_ candidate: Candidate, pageSize: Int) -> Int {
        let spanBytes = candidate.pages * pageSize
        let grown = (spanBytes / (spanBytes / candidate.size)) & ~(SizeClassParameters.largeSizeDivisor - 1)
        return max(grown, candidate.size)
    }

    /// Steps 4–5 for one class, with the field-width checks of Go's tables:
    /// `uint16` sizes, `uint8` page counts, 16-bit divmagic. `previousSize`
    /// feeds the max-waste column.
    public static func finish(
        _ candidate: Candidate, previousSize: Int, pageSize: Int
    ) throws(DivMagicOverflow) -> SizeClass {
        let size = grownSize(candidate, pageSize: pageSize)
        let spanBytes = candidate.pages * pageSize
        guard size <= Int(UInt16.max) else {
            throw DivMagicOverflow("size \(size) does not fit class_to_size (uint16)")
        }
        guard candidate.pages <= Int(UInt8.max) else {
            throw DivMagicOverflow("size \(size) needs \(candidate.pages) pages, over class_to_allocnpages (uint8)")
        }
        let objects = spanBytes / size
        guard objects <= Int(UInt16.max) else {
            throw DivMagicOverflow("size \(size) has \(objects) objects per span, over 65535")
        }
        let tailWaste = spanBytes - objects * size
        let divMagic = try DivMagic.compute(size: size, spanBytes: spanBytes)
        // Go: float64((size-prev-1)*objects+tail) / float64(span), then ×100.
        let maxWaste = Double((size - previousSize - 1) * objects + tailWaste) / Double(spanBytes)
        return SizeClass(
            size: size, pages: candidate.pages, spanBytes: spanBytes, objects: objects,
            tailWaste: tailWaste, maxWastePercent: 100 * maxWaste, divMagic: divMagic
        )
    }
}
