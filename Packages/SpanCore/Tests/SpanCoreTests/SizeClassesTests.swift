import Testing
import SpanCore

/// Size → class lookups and the per-class invariants of the committed table.
@Suite struct SizeClassesTests {
    @Test func everySmallSizeGetsTheSmallestClassThatFits() {
        var expected = 0
        var wrong: [Int] = []
        for size in 0...SizeClasses.maxSmallSize {
            while SizeClasses.size(ofClass: expected) < size { expected += 1 }
            if SizeClasses.sizeClass(for: size) != expected { wrong.append(size) }
        }
        #expect(wrong.isEmpty, "sizes with the wrong class: \(wrong.prefix(10))")
        #expect(SizeClasses.sizeClass(for: SizeClasses.maxSmallSize) == SizeClasses.count - 1)
    }

    @Test func classesAscendAndFillTheirSpans() {
        #expect(SizeClasses.pageSize == 1 << SizeClasses.pageShift)
        #expect(SizeClasses.size(ofClass: SizeClasses.count - 1) >= SizeClasses.maxSmallSize)
        var previous = 0
        for c in 1..<SizeClasses.count {
            let size = SizeClasses.size(ofClass: c)
            let span = SizeClasses.pages(ofClass: c) * SizeClasses.pageSize
            #expect(size >= previous, "class \(c)")
            #expect(size % 8 == 0 && (size <= 1024 || size % 128 == 0), "class \(c) size \(size)")
            #expect(SizeClasses.objects(ofClass: c) == span / size, "class \(c)")
            #expect(SizeClasses.objects(ofClass: c) >= 1)
            previous = size
        }
    }

    @Test func theCommittedTableIsGo114sDefault() {
        // The committed table is Go 1.14's unless someone regenerated it.
        guard SizeClasses.pageSize == 8192, SizeClasses.maxSmallSize == 32768 else { return }
        #expect(SizeClasses.count == 67)
        #expect(SizeClasses.sizeClass(for: 1) == 1)
        #expect(SizeClasses.sizeClass(for: 24) == 3)
        #expect(SizeClasses.sizeClass(for: 1025) == 32)
        #expect(SizeClasses.size(ofClass: 51) == 9472 && SizeClasses.pages(ofClass: 51) == 7)
    }
}
