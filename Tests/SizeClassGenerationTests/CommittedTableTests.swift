import Testing
import SizeClassGeneration
import SpanCore

/// SpanCore's committed table is the generator's output for its parameters,
/// and the compiled tables agree with the generator class by class.
@Suite struct CommittedTableTests {
    /// The repository root, from this file's path (Tests/SizeClassGenerationTests/…).
    static let root = String(#filePath.split(separator: "/", omittingEmptySubsequences: false).dropLast(3).joined(separator: "/"))
    static let generatedFile = root + "/Packages/SpanCore/Sources/SpanCore/SizeClasses.generated.swift"

    @Test func committedFileEqualsGeneratorOutput() throws {
        let committed = try #require(TestFiles.read(Self.generatedFile), "cannot read \(Self.generatedFile)")
        let parameters = SizeClassParameters(pageSize: SizeClasses.pageSize, maxSmallSize: SizeClasses.maxSmallSize)
        let expected = SwiftRenderer.render(try SizeClassTable(parameters: parameters))
        #expect(committed == expected, "run: swift package --allow-writing-to-package-directory generate-size-classes")
    }

    @Test func compiledTablesEqualTheGenerator() throws {
        let parameters = SizeClassParameters(pageSize: SizeClasses.pageSize, maxSmallSize: SizeClasses.maxSmallSize)
        let table = try SizeClassTable(parameters: parameters)
        #expect(SizeClasses.count == table.count)
        #expect(SizeClasses.pageShift == parameters.pageShift)
        for (c, expected) in table.classes.enumerated() {
            let m = SizeClasses.divMagic(ofClass: c)
            #expect(SizeClasses.size(ofClass: c) == expected.size)
            #expect(SizeClasses.pages(ofClass: c) == expected.pages)
            #expect(SizeClasses.objects(ofClass: c) == expected.objects)
            #expect(Int(m.shift) == expected.divMagic.divShift && Int(m.shift2) == expected.divMagic.divShift2)
            #expect(Int(m.mul) == expected.divMagic.divMul && Int(m.baseMask) == expected.divMagic.baseMask)
            #expect(m.mul32 == expected.divMagic.divMul32)
        }
        for size in stride(from: 0, through: SizeClasses.maxSmallSize, by: 8) {
            let expected = size <= 1024 ? table.sizeToClass8[size / 8] : table.sizeToClass128[(size - 1024 + 127) / 128]
            #expect(SizeClasses.sizeClass(for: size) == expected)
        }
    }
}
