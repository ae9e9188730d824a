import Testing
import SizeClassGeneration

/// The algorithm's invariants for other page sizes, max small sizes and waste
/// bounds: every table it accepts is a correct table.
@Suite struct PageSizeTests {
    static let parameterSets: [SizeClassParameters] = [
        .init(pageSize: 4096),
        .init(pageSize: 16384),
        .init(pageSize: 65536),
        .init(pageSize: 32768),
        .init(pageSize: 4096, maxSmallSize: 16384),
        .init(pageSize: 16384, maxSmallSize: 40960),
        .init(pageSize: 8192, maxSmallSize: 1024),
        .init(pageSize: 8192, maxSmallSize: 32768, maxWaste: Fraction(1, 4)),
    ]

    @Test(arguments: parameterSets)
    func tableInvariants(_ p: SizeClassParameters) throws {
        let table = try SizeClassTable(parameters: p)
        let classes = table.classes
        #expect(classes[0] == .zero)
        #expect(classes.last!.size >= p.maxSmallSize)
        var previous = 0
        for (c, k) in classes.enumerated().dropFirst() {
            // Non-strict: growth can lift a class to its neighbour's size (4 KiB
            // pages: 1408 B in 3 pages grows to 1536 B, next to 1536 B in 2
            // pages), exactly as Go's algorithm does; lookups take the first.
            #expect(k.size >= previous, "class \(c) does not ascend")
            #expect(k.size % 8 == 0 && (k.size <= 1024 || k.size % 128 == 0), "class \(c) size \(k.size)")
            #expect(k.spanBytes == k.pages * p.pageSize && k.objects == k.spanBytes / k.size)
            #expect(k.tailWaste == k.spanBytes - k.objects * k.size)
            #expect(k.tailWaste <= p.maxWaste.floorOfProduct(with: k.spanBytes), "class \(c) wastes \(k.tailWaste) of \(k.spanBytes)")
            // Grown: no larger multiple of 128 B keeps the same object count.
            #expect((k.spanBytes / k.objects) & ~127 <= k.size, "class \(c) could grow")
            previous = k.size
        }
        // No two neighbours with the same pages and object count (Go merges them).
        for c in 2..<classes.count {
            #expect(!(classes[c].pages == classes[c - 1].pages && classes[c].objects == classes[c - 1].objects), "classes \(c - 1), \(c) should have merged")
        }
        // Lookups: the smallest class that fits, at their step.
        for (i, cls) in table.sizeToClass8.enumerated() {
            #expect(classes[cls].size >= i * 8 && (cls == 0 || classes[cls - 1].size < i * 8))
        }
        for (i, cls) in table.sizeToClass128.enumerated() {
            let size = 1024 + i * 128
            #expect(classes[cls].size >= size && classes[cls - 1].size < size)
        }
    }

    @Test(arguments: [4096, 16384, 65536])
    func divMagicIsExactForEveryOffset(_ pageSize: Int) throws {
        let table = try SizeClassTable(parameters: .init(pageSize: pageSize))
        for (c, k) in table.classes.enumerated().dropFirst() {
            let m = k.divMagic
            #expect(m.divMul < 1 << 16 && m.divMul * (k.spanBytes >> m.divShift) < 1 << 32)
            #expect(m.baseMask == (k.size & (k.size - 1) == 0 ? 65536 - k.size : 0))
            var quotient = 0, remainder = 0, bad = 0
            for n in 0...k.spanBytes {
                if m.index(ofOffset: n) != quotient || m.index32(ofOffset: n) != quotient { bad += 1 }
                remainder += 1
                if remainder == k.size { remainder = 0; quotient += 1 }
            }
            #expect(bad == 0, "page size \(pageSize) class \(c): \(bad) offsets")
            // Smallest shift2: one less must fail somewhere (unless it is 0).
            if m.divShift2 > 0 {
                let d = k.size >> m.divShift
                let k1 = m.divShift2 - 1
                let mul1 = ((1 << k1) + d - 1) / d
                let max = k.spanBytes >> m.divShift
                #expect((0...max).contains { ($0 * mul1) >> k1 != $0 / d }, "class \(c): shift2 \(m.divShift2) is not the smallest")
            }
        }
    }

    @Test func pageSizeCountsAreStable() throws {
        #expect(try SizeClassTable(parameters: .init(pageSize: 4096)).count == 61)
        #expect(try SizeClassTable(parameters: .init(pageSize: 16384)).count == 70)
        #expect(try SizeClassTable(parameters: .init(pageSize: 65536)).count == 73)
    }

    @Test func aWasteLimitParsesAsAFractionADecimalOrAPercentage() {
        #expect(Fraction(parsing: "1/8") == Fraction(1, 8))
        #expect(Fraction(parsing: "0.125") == Fraction(1, 8))
        #expect(Fraction(parsing: "12.5%") == Fraction(1, 8))
        #expect(Fraction(parsing: "2/16") == Fraction(1, 8))
        #expect(Fraction(parsing: "1/0") == nil)
        #expect(Fraction(parsing: "x") == nil)
    }
}
