import Testing
import SizeClassGeneration

/// The default parameters reproduce Go 1.14's `sizeclasses.go` exactly. The
/// expected values below are Go 1.14's table, written out as data.
@Suite struct GoTableTests {
    static let go114Sizes = [
        0, 8, 16, 32, 48, 64, 80, 96, 112, 128, 144, 160, 176, 192, 208, 224, 240, 256, 288, 320, 352, 384,
        416, 448, 480, 512, 576, 640, 704, 768, 896, 1024, 1152, 1280, 1408, 1536, 1792, 2048, 2304, 2688,
        3072, 3200, 3456, 4096, 4864, 5376, 6144, 6528, 6784, 6912, 8192, 9472, 9728, 10240, 10880, 12288,
        13568, 14336, 16384, 18432, 19072, 20480, 21760, 24576, 27264, 28672, 32768,
    ]
    static let go114Pages = [
        0, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1,
        2, 1, 2, 1, 2, 1, 3, 2, 3, 1, 3, 2, 3, 4, 5, 6, 1, 7, 6, 5, 4, 3, 5, 7, 2, 9, 7, 5, 8, 3, 10, 7, 4,
    ]
    /// (shift, shift2, mul, baseMask) per class.
    static let go114DivMagic: [(Int, Int, Int, Int)] = [
        (0, 0, 0, 0), (3, 0, 1, 65528), (4, 0, 1, 65520), (5, 0, 1, 65504), (4, 11, 683, 0), (6, 0, 1, 65472),
        (4, 10, 205, 0), (5, 9, 171, 0), (4, 11, 293, 0), (7, 0, 1, 65408), (4, 13, 911, 0), (5, 10, 205, 0),
        (4, 12, 373, 0), (6, 9, 171, 0), (4, 13, 631, 0), (5, 11, 293, 0), (4, 13, 547, 0), (8, 0, 1, 65280),
        (5, 9, 57, 0), (6, 9, 103, 0), (5, 12, 373, 0), (7, 7, 43, 0), (5, 10, 79, 0), (6, 10, 147, 0),
        (5, 11, 137, 0), (9, 0, 1, 65024), (6, 9, 57, 0), (7, 9, 103, 0), (6, 11, 187, 0), (8, 7, 43, 0),
        (7, 8, 37, 0), (10, 0, 1, 64512), (7, 9, 57, 0), (8, 6, 13, 0), (7, 11, 187, 0), (9, 5, 11, 0),
        (8, 8, 37, 0), (11, 0, 1, 63488), (8, 9, 57, 0), (7, 10, 49, 0), (10, 5, 11, 0), (7, 10, 41, 0),
        (7, 9, 19, 0), (12, 0, 1, 61440), (8, 9, 27, 0), (8, 10, 49, 0), (11, 5, 11, 0), (7, 13, 161, 0),
        (7, 13, 155, 0), (8, 9, 19, 0), (13, 0, 1, 57344), (8, 12, 111, 0), (9, 9, 27, 0), (11, 6, 13, 0),
        (7, 14, 193, 0), (12, 3, 3, 0), (8, 13, 155, 0), (11, 8, 37, 0), (14, 0, 1, 49152), (11, 8, 29, 0),
        (7, 13, 55, 0), (12, 5, 7, 0), (8, 14, 193, 0), (13, 3, 3, 0), (7, 14, 77, 0), (12, 7, 19, 0),
        (15, 0, 1, 32768),
    ]
    static let go114SizeToClass8 = [
        0, 1, 2, 3, 3, 4, 4, 5, 5, 6, 6, 7, 7, 8, 8, 9, 9, 10, 10, 11, 11, 12, 12, 13, 13, 14, 14, 15, 15, 16,
        16, 17, 17, 18, 18, 18, 18, 19, 19, 19, 19, 20, 20, 20, 20, 21, 21, 21, 21, 22, 22, 22, 22, 23, 23, 23,
        23, 24, 24, 24, 24, 25, 25, 25, 25, 26, 26, 26, 26, 26, 26, 26, 26, 27, 27, 27, 27, 27, 27, 27, 27, 28,
        28, 28, 28, 28, 28, 28, 28, 29, 29, 29, 29, 29, 29, 29, 29, 30, 30, 30, 30, 30, 30, 30, 30, 30, 30, 30,
        30, 30, 30, 30, 30, 31, 31, 31, 31, 31, 31, 31, 31, 31, 31, 31, 31, 31, 31, 31, 31,
    ]
    static let go114SizeToClass128 = [
        31, 32, 33, 34, 35, 36, 36, 37, 37, 38, 38, 39, 39, 39, 40, 40, 40, 41, 42, 42, 43, 43, 43, 43, 43, 44,
        44, 44, 44, 44, 44, 45, 45, 45, 45, 46, 46, 46, 46, 46, 46, 47, 47, 47, 48, 48, 49, 50, 50, 50, 50, 50,
        50, 50, 50, 50, 50, 51, 51, 51, 51, 51, 51, 51, 51, 51, 51, 52, 52, 53, 53, 53, 53, 54, 54, 54, 54, 54,
        55, 55, 55, 55, 55, 55, 55, 55, 55, 55, 55, 56, 56, 56, 56, 56, 56, 56, 56, 56, 56, 57, 57, 57, 57, 57,
        57, 58, 58, 58, 58, 58, 58, 58, 58, 58, 58, 58, 58, 58, 58, 58, 58, 59, 59, 59, 59, 59, 59, 59, 59, 59,
        59, 59, 59, 59, 59, 59, 59, 60, 60, 60, 60, 60, 61, 61, 61, 61, 61, 61, 61, 61, 61, 61, 61, 62, 62, 62,
        62, 62, 62, 62, 62, 62, 62, 63, 63, 63, 63, 63, 63, 63, 63, 63, 63, 63, 63, 63, 63, 63, 63, 63, 63, 63,
        63, 63, 63, 64, 64, 64, 64, 64, 64, 64, 64, 64, 64, 64, 64, 64, 64, 64, 64, 64, 64, 64, 64, 64, 65, 65,
        65, 65, 65, 65, 65, 65, 65, 65, 65, 66, 66, 66, 66, 66, 66, 66, 66, 66, 66, 66, 66, 66, 66, 66, 66, 66,
        66, 66, 66, 66, 66, 66, 66, 66, 66, 66, 66, 66, 66, 66, 66,
    ]

    @Test func sizesPagesAndDivMagicMatchGo114() throws {
        let table = try SizeClassTable()
        #expect(table.count == 67)
        #expect(table.classes.map(\.size) == Self.go114Sizes)
        #expect(table.classes.map(\.pages) == Self.go114Pages)
        for (c, expected) in Self.go114DivMagic.enumerated() {
            let m = table.classes[c].divMagic
            #expect(m.divShift == expected.0 && m.divShift2 == expected.1 && m.divMul == expected.2 && m.baseMask == expected.3,
                    "class \(c): got (\(m.divShift), \(m.divShift2), \(m.divMul), \(m.baseMask)), Go has \(expected)")
        }
    }

    @Test func lookupTablesMatchGo114() throws {
        let table = try SizeClassTable()
        #expect(table.sizeToClass8 == Self.go114SizeToClass8)
        #expect(table.sizeToClass128 == Self.go114SizeToClass128)
    }

    @Test func divMul32IsGo117sReciprocal() throws {
        for c in try SizeClassTable().classes.dropFirst() {
            #expect(c.divMagic.divMul32 == UInt32.max / UInt32(c.size) + 1)
        }
    }

    /// Lines of Go 1.14's comment table, as Go prints them.
    @Test func textTableMatchesGoPrintout() throws {
        let lines = GoTableRenderer.render(try SizeClassTable()).split(separator: "\n")
        #expect(lines.count == 67)
        #expect(lines[0] == "class  bytes/obj  bytes/span  objects  tail waste  max waste")
        #expect(lines[1] == "    1          8        8192     1024           0     87.50%")
        #expect(lines[4] == "    4         48        8192      170          32     31.52%")
        #expect(lines[30] == "   30        896        8192        9         128     15.52%")
        #expect(lines[51] == "   51       9472       57344        6         512     14.28%")
        #expect(lines[64] == "   64      27264       81920        3         128     10.00%")
        #expect(lines[66] == "   66      32768       32768        1           0     12.50%")
    }

    @Test func jsonOmitsClassZeroAndCarriesEveryField() throws {
        let json = JSONRenderer.render(try SizeClassTable())
        #expect(json.hasPrefix("{\n  \"pageSize\": 8192,\n  \"maxSmallSize\": 32768,\n  \"classes\": [\n"))
        #expect(json.contains("{\"size\": 8, \"pages\": 1, \"objects\": 1024, \"tailWaste\": 0, \"maxWaste\": 87.50, \"divShift\": 3, \"divMul\": 1, \"divShift2\": 0, \"baseMask\": 65528, \"divMul32\": 536870912}"))
        #expect(json.contains("{\"size\": 48, \"pages\": 1, \"objects\": 170, \"tailWaste\": 32, \"maxWaste\": 31.52, \"divShift\": 4, \"divMul\": 683, \"divShift2\": 11, \"baseMask\": 0, \"divMul32\": 89478486}"))
        #expect(!json.contains("\"size\": 0,"))
        #expect(json.components(separatedBy: "\"size\":").count - 1 == 66)
    }
}

private extension String {
    func components(separatedBy separator: String) -> [Substring] {
        var parts: [Substring] = []
        var rest = self[...]
        while let range = rest.firstRange(of: separator) {
            parts.append(rest[..<range.lowerBound])
            rest = rest[range.upperBound...]
        }
        parts.append(rest)
        return parts
    }
}
