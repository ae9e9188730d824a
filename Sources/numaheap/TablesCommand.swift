import ArgumentParser
import SizeClassGeneration
import SpanCore

/// `numaheap tables`: the size-class table this build of SpanCore runs on,
/// printed as Go's `mksizeclasses.go` prints it (class, bytes/obj, bytes/span,
/// objects, tail waste, max waste), read back from SpanCore's compiled tables
/// rather than regenerated.
struct TablesCommand: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "tables", abstract: "Print the active size-class table.")

    @Flag(help: "Also print each class's divmagic (Go 1.14's shift, shift2, mul, baseMask and the 32-bit mul).")
    var divMagic = false

    func run() throws {
        print("page size \(SizeClasses.pageSize) (shift \(SizeClasses.pageShift)), max small size \(SizeClasses.maxSmallSize), \(SizeClasses.count) size classes (class 0 included)")
        print()
        let entries = (1..<SizeClasses.count).map { (size: SizeClasses.size(ofClass: $0), pages: SizeClasses.pages(ofClass: $0)) }
        print(GoTableRenderer.render(GoTableRenderer.rows(sizesAndPages: entries, pageSize: SizeClasses.pageSize)), terminator: "")
        guard divMagic else { return }
        print()
        print("class  divShift  divShift2  divMul  baseMask    divMul32")
        for c in 1..<SizeClasses.count {
            let m = SizeClasses.divMagic(ofClass: c)
            let columns = [(c, 5), (Int(m.shift), 8), (Int(m.shift2), 9), (Int(m.mul), 6), (Int(m.baseMask), 8), (Int(m.mul32), 10)]
            print(columns.map { value, width in
                let text = String(value)
                return String(repeating: " ", count: max(0, width - text.count)) + text
            }.joined(separator: "  "))
        }
    }
}
