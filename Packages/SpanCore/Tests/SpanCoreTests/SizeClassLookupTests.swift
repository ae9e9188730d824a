import Platform
import SpanCore
import Testing

/// A heap's copy of the size → class table (``SizeClassLookup``) against the
/// definition: the smallest class that holds the size and whose objects are
/// aligned to the request's alignment (spans start on page boundaries, so
/// an object size that is a multiple of the alignment gives aligned objects).
@Suite struct SizeClassLookupTests {
    static func withLookup(_ body: (SizeClassLookup) -> Void) throws {
        let bytes = SizeClassLookup.byteCount
        guard case .success(let base) = SystemMemory.mapAnonymous(bytes: bytes) else {
            Issue.record("cannot map \(bytes) bytes"); return
        }
        defer { _ = SystemMemory.unmap(base, bytes: bytes) }
        body(SizeClassLookup(initializing: base))
    }

    /// The smallest class holding `size` whose object size is a multiple of `alignment`.
    static func expectedClass(size: Int, alignment: Int) -> Int {
        var c = SizeClasses.sizeClass(for: max(size, 1))
        while SizeClasses.size(ofClass: c) % alignment != 0 { c += 1 }
        return c
    }

    @Test(arguments: [1, 2, 4, 8, 16])
    func everySmallSizeAndAlignmentGetsTheSmallestAlignedClassThatFits(alignment: Int) throws {
        try Self.withLookup { lookup in
            var wrong: [Int] = []
            for size in 1...SizeClasses.maxSmallSize
            where lookup.sizeClass(forSize: UInt(size), alignment: alignment) != Self.expectedClass(size: size, alignment: alignment) {
                wrong.append(size)
            }
            #expect(wrong.isEmpty, "alignment \(alignment): sizes with the wrong class: \(wrong.prefix(10))")
        }
    }

    @Test func theFastPathsRowIsThe16ByteAlignedRowUpToSmallSizeMax() throws {
        try Self.withLookup { lookup in
            for size in 1...SizeClasses.smallSizeMax {
                #expect(lookup.aligned16SizeClass(forSmallSize: UInt(size)) == Self.expectedClass(size: size, alignment: 16),
                        "size \(size)")
            }
        }
    }

    @Test func theStorageIsOneBytePerEntryOfTheThreeRows() {
        let smallRow = SizeClasses.smallSizeMax / SizeClasses.smallSizeDivisor + 1
        let largeRow = (SizeClasses.maxSmallSize - SizeClasses.smallSizeMax + SizeClasses.largeSizeDivisor - 1)
            / SizeClasses.largeSizeDivisor + 1
        #expect(SizeClassLookup.byteCount == 2 * smallRow + largeRow)
        #expect(SizeClasses.count <= Int(UInt8.max) + 1, "a class number fits an entry's byte")
    }
}
