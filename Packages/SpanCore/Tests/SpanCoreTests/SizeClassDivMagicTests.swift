import Testing
import SpanCore

/// The committed divmagic, checked against real division for every class and
/// every byte offset of its span (one past the end included, as Go checks).
@Suite struct SizeClassDivMagicTests {
    @Test func bothFormsDivideEveryOffsetOfEverySpan() {
        var checked = 0
        for c in 1..<SizeClasses.count {
            let size = SizeClasses.size(ofClass: c)
            let span = SizeClasses.pages(ofClass: c) * SizeClasses.pageSize
            let magic = SizeClasses.divMagic(ofClass: c)
            var quotient = 0, remainder = 0
            var failures = 0
            for n in 0...span {
                if Int(magic.objectIndex(ofOffset: UInt(n))) != quotient
                    || Int(magic.objectIndex32(ofOffset: UInt32(n))) != quotient {
                    failures += 1
                }
                remainder += 1
                if remainder == size { remainder = 0; quotient += 1 }
            }
            #expect(failures == 0, "class \(c) (size \(size), span \(span)): \(failures) offsets divide wrongly")
            checked += span + 1
        }
        #expect(checked > 1_000_000)
    }

    @Test func baseMaskRoundsDownToTheObjectForPowerOfTwoSizes() {
        for c in 1..<SizeClasses.count {
            let size = SizeClasses.size(ofClass: c)
            let magic = SizeClasses.divMagic(ofClass: c)
            guard size & (size - 1) == 0 else {
                #expect(magic.baseMask == 0, "class \(c)")
                continue
            }
            let span = SizeClasses.pages(ofClass: c) * SizeClasses.pageSize
            #expect(Int(magic.baseMask) == 65536 - size)
            for n in stride(from: 0, to: span, by: 1) where n % 61 == 0 || n % size == size - 1 {
                #expect(n & Int(magic.baseMask) == n / size * size, "class \(c) offset \(n)")
            }
        }
    }

    @Test func classZeroIsAllZero() {
        #expect(SizeClasses.size(ofClass: 0) == 0)
        #expect(SizeClasses.pages(ofClass: 0) == 0)
        #expect(SizeClasses.objects(ofClass: 0) == 0)
        #expect(SizeClasses.divMagic(ofClass: 0) == SpanDivMagic(shift: 0, shift2: 0, mul: 0, baseMask: 0, mul32: 0))
    }
}
