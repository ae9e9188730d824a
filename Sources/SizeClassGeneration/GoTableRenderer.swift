/// Renders a table the way Go's `mksizeclasses.go` prints it in the comment of
/// `sizeclasses.go`:
///
///     class  bytes/obj  bytes/span  objects  tail waste  max waste
///         1          8        8192     1024           0     87.50%
///
/// Columns: class number, object size, span bytes, objects per span, tail
/// waste in bytes, and the worst-case waste in percent (Go's `%8.2f%%`).
/// Class 0 is not printed.
public enum GoTableRenderer {
    /// One row per class; the input carries only what the columns need, so the
    /// `numaheap tables` command can render SpanCore's compiled tables too.
    public struct Row: Sendable {
        public var sizeClass: Int
        public var size: Int
        public var spanBytes: Int
        public var objects: Int
        public var tailWaste: Int
        public var maxWastePercent: Double

        public init(sizeClass: Int, size: Int, spanBytes: Int, objects: Int, tailWaste: Int, maxWastePercent: Double) {
            self.sizeClass = sizeClass
            self.size = size
            self.spanBytes = spanBytes
            self.objects = objects
            self.tailWaste = tailWaste
            self.maxWastePercent = maxWastePercent
        }
    }

    /// The rows for (size, pages) pairs of classes 1…, computing the derived
    /// columns as Go does.
    public static func rows(sizesAndPages: [(size: Int, pages: Int)], pageSize: Int) -> [Row] {
        var previous = 0
        return sizesAndPages.enumerated().map { index, entry in
            let span = entry.pages * pageSize
            let objects = span / entry.size
            let tail = span - objects * entry.size
            let waste = 100 * (Double((entry.size - previous - 1) * objects + tail) / Double(span))
            previous = entry.size
            return Row(sizeClass: index + 1, size: entry.size, spanBytes: span, objects: objects, tailWaste: tail, maxWastePercent: waste)
        }
    }

    /// The rows of a generated table.
    public static func rows(_ table: SizeClassTable) -> [Row] {
        table.classes.enumerated().dropFirst().map { index, c in
            Row(sizeClass: index, size: c.size, spanBytes: c.spanBytes, objects: c.objects, tailWaste: c.tailWaste, maxWastePercent: c.maxWastePercent)
        }
    }

    /// The header line and one line per row, each prefixed by `prefix`
    /// (`"// "` inside generated source), newline-terminated.
    public static func render(_ rows: [Row], prefix: String = "") -> String {
        typealias F = DecimalFormatting
        var out = prefix + [
            F.leftAligned("class", 5), F.leftAligned("bytes/obj", 9), F.leftAligned("bytes/span", 10),
            F.leftAligned("objects", 7), F.leftAligned("tail waste", 10), F.leftAligned("max waste", 9),
        ].joined(separator: "  ") + "\n"
        for row in rows {
            out += prefix + [
                F.padded(row.sizeClass, 5), F.padded(row.size, 9), F.padded(row.spanBytes, 10),
                F.padded(row.objects, 7), F.padded(row.tailWaste, 10),
                F.padded(F.twoDecimals(row.maxWastePercent), 8) + "%",
            ].joined(separator: "  ") + "\n"
        }
        return out
    }

    /// `render(rows(table), prefix:)`.
    public static func render(_ table: SizeClassTable, prefix: String = "") -> String {
        render(rows(table), prefix: prefix)
    }
}
