// Byte-level parsers for the sysfs and procfs formats SystemTopology reads.
//
// Invariant: nothing here allocates. The parsers run inside `malloc` (the heap
// creates itself lazily and reads the topology first), so they work on raw
// bytes in the loader's mapped scratch buffer, use no String, Array, closure
// or generic code, and report failure as values, never by throwing.

/// A read-only run of bytes: a file's contents or a slice of them.
@usableFromInline
struct SysfsBytes {
    @usableFromInline let start: UnsafePointer<UInt8>
    @usableFromInline let count: Int

    @usableFromInline init(start: UnsafePointer<UInt8>, count: Int) {
        self.start = start
        self.count = count
    }

    subscript(i: Int) -> UInt8 { start[i] }

    /// The bytes without trailing newlines, spaces and NULs (sysfs files end in "\n").
    var trimmed: SysfsBytes {
        var n = count
        while n > 0, start[n - 1] == 0x0A || start[n - 1] == 0x20 || start[n - 1] == 0 { n -= 1 }
        return SysfsBytes(start: start, count: n)
    }

    /// The decimal number at `position` (digits only) and the position after it;
    /// nil when there is no digit there or the value exceeds 2^40 (no node, CPU,
    /// distance or kB count on a real machine comes near it).
    func decimal(at position: Int) -> (value: Int, end: Int)? {
        var i = position
        var value = 0
        while i < count, start[i] >= 0x30, start[i] <= 0x39 {
            value = value * 10 + Int(start[i] - 0x30)
            if value > 1 << 40 { return nil }
            i += 1
        }
        return i == position ? nil : (value, i)
    }
}

/// One step of a kernel list ("0-3,5,7-8"; "" is the empty list), as written by
/// the kernel's `%*pbl` format in `possible`, `online`, `has_memory`, `has_cpu`,
/// `nodeN/cpulist` and `cpu/online`.
@usableFromInline
enum SysfsListItem {
    /// The numbers `low...high`.
    case range(low: Int, high: Int)
    /// The list is exhausted.
    case end
    /// Bad syntax starting at byte `offset`.
    case malformed(offset: Int)
}

/// Walks a kernel list item by item. The text must be trimmed; a trailing
/// comma, an empty item, a reversed range or any byte other than digits, ','
/// and '-' is malformed.
@usableFromInline
struct SysfsListParser {
    let text: SysfsBytes
    var position = 0

    init(_ text: SysfsBytes) { self.text = text }

    mutating func next() -> SysfsListItem {
        if position >= text.count { return .end }
        if position > 0 {
            // The previous item stopped at a comma (or the end, handled above).
            position += 1
        }
        let itemStart = position
        guard let (low, afterLow) = text.decimal(at: position) else { return .malformed(offset: itemStart) }
        position = afterLow
        var high = low
        if position < text.count, text[position] == 0x2D {
            guard let (h, afterHigh) = text.decimal(at: position + 1), h >= low else { return .malformed(offset: itemStart) }
            high = h
            position = afterHigh
        }
        if position < text.count, text[position] != 0x2C { return .malformed(offset: itemStart) }
        return .range(low: low, high: high)
    }
}

/// Looks up `key` ("MemTotal:", "MemFree:") in a meminfo file — `/proc/meminfo`
/// ("MemTotal:  16318476 kB") or `nodeN/meminfo` ("Node 0 MemTotal:  9922776 kB")
/// — and returns the value in bytes; nil when the key is missing or its line
/// does not read "<spaces><digits> kB".
@usableFromInline
func sysfsMeminfoBytes(_ text: SysfsBytes, key: StaticString) -> Int? {
    let keyBytes = key.utf8Start
    let keyCount = key.utf8CodeUnitCount
    var lineStart = 0
    while lineStart < text.count {
        var lineEnd = lineStart
        while lineEnd < text.count, text[lineEnd] != 0x0A { lineEnd += 1 }
        // The key is at the line's start, or after "Node N ".
        var k = lineStart
        if lineEnd - k > 5, text[k] == 0x4E, text[k + 1] == 0x6F, text[k + 2] == 0x64, text[k + 3] == 0x65, text[k + 4] == 0x20 {
            if let (_, afterNode) = text.decimal(at: k + 5), afterNode < lineEnd, text[afterNode] == 0x20 { k = afterNode + 1 }
        }
        var matches = lineEnd - k >= keyCount
        var j = 0
        while matches, j < keyCount {
            if text[k + j] != keyBytes[j] { matches = false }
            j += 1
        }
        if matches {
            var i = k + keyCount
            while i < lineEnd, text[i] == 0x20 { i += 1 }
            guard let (kilobytes, afterNumber) = text.decimal(at: i), afterNumber + 3 == lineEnd,
                  text[afterNumber] == 0x20, text[afterNumber + 1] == 0x6B, text[afterNumber + 2] == 0x42
            else { return nil }
            return kilobytes * 1024
        }
        lineStart = lineEnd + 1
    }
    return nil
}
