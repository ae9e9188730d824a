/// The sizes Go's generator considers as class boundaries: steps of 8 bytes,
/// then 16 from 16 B, size/8 from each power of two ≥ 128 B (so 16, 32, 64,
/// 128 up to 2 KiB), and 256 from 2 KiB.
///
/// The alignment only changes at powers of two, and the walk lands on every
/// power of two, so every size on the grid is a multiple of the alignment in
/// force at that size. In particular everything above 1 KiB (`smallSizeMax`)
/// is a multiple of 128 B (`largeSizeDiv`), which the 128-byte lookup table
/// relies on.
public enum SizeGrid {
    /// The alignment step that leads *from* `size` to the next size on the grid
    /// (Go's `align` after the bump at `size`).
    public static func step(after size: Int) -> Int {
        if size >= 2048 { return 256 }
        if size >= 128 {
            // size/8 of the last power of two at or below size.
            return (1 << (Int.bitWidth - 1 - size.leadingZeroBitCount)) / 8
        }
        if size >= 16 { return 16 }
        return 8
    }

    /// The grid sizes from 8 through `limit`, ascending.
    public static func sizes(through limit: Int) -> [Int] {
        var result: [Int] = []
        var size = 8
        while size <= limit {
            result.append(size)
            size += step(after: size)
        }
        return result
    }

    /// Whether `size` is on the grid.
    public static func contains(_ size: Int) -> Bool {
        size >= 8 && floor(size) == size
    }

    /// The largest grid size ≤ `size` (0 if none).
    public static func floor(_ size: Int) -> Int {
        var current = 8, previous = 0
        while current <= size { previous = current; current += step(after: current) }
        return previous
    }

    /// The smallest grid size ≥ `size`.
    public static func ceiling(_ size: Int) -> Int {
        var current = 8
        while current < size { current += step(after: current) }
        return current
    }
}
