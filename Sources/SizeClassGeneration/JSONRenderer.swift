/// Renders a table as JSON:
///
///     {"pageSize":8192, "maxSmallSize":32768, "classes":[{"size":8, "pages":1, …}, …]}
///
/// Class 0 is omitted; classes ascend. `maxWaste` is the percentage Go's table
/// prints (two decimals), `tailWaste` is in bytes.
public enum JSONRenderer {
    public static func render(_ table: SizeClassTable) -> String {
        let p = table.parameters
        var out = "{\n  \"pageSize\": \(p.pageSize),\n  \"maxSmallSize\": \(p.maxSmallSize),\n"
        out += "  \"classes\": [\n"
        let rows = table.classes.dropFirst().map { c in
            let m = c.divMagic
            return "    {\"size\": \(c.size), \"pages\": \(c.pages), \"objects\": \(c.objects), "
                + "\"tailWaste\": \(c.tailWaste), \"maxWaste\": \(DecimalFormatting.twoDecimals(c.maxWastePercent)), "
                + "\"divShift\": \(m.divShift), \"divMul\": \(m.divMul), \"divShift2\": \(m.divShift2), "
                + "\"baseMask\": \(m.baseMask), \"divMul32\": \(m.divMul32)}"
        }
        out += rows.joined(separator: ",\n") + "\n  ]\n}\n"
        return out
    }
}
