import CPlatform

/// A fatal-error message built without allocating, written to stderr, then `abort()`.
///
/// `precondition(_:_:)` drops its message under `-O`, and `fatalError("\(p)")`
/// allocates a `String` — which re-enters the allocator when NUMAHeap *is* the
/// allocator. Every broken invariant and every misuse in NUMAHeap is reported
/// through this type instead, so debug builds, release builds and the malloc
/// library all say what went wrong and where:
///
/// ```swift
/// FatalMessage("NUMAHeap: double free of ").hex(address)
///     .text(" (size class ").decimal(sizeClass).text(")").crash()
/// ```
///
/// The text lives in a fixed 512-byte buffer inside the value (on the stack);
/// a longer message is truncated, never allocated. Every message ends with a
/// newline when written.
public struct FatalMessage {
    @usableFromInline static let capacity = 512

    // 64 × 8 = 512 bytes of inline storage.
    @usableFromInline var storage: (
        UInt64, UInt64, UInt64, UInt64, UInt64, UInt64, UInt64, UInt64,
        UInt64, UInt64, UInt64, UInt64, UInt64, UInt64, UInt64, UInt64,
        UInt64, UInt64, UInt64, UInt64, UInt64, UInt64, UInt64, UInt64,
        UInt64, UInt64, UInt64, UInt64, UInt64, UInt64, UInt64, UInt64,
        UInt64, UInt64, UInt64, UInt64, UInt64, UInt64, UInt64, UInt64,
        UInt64, UInt64, UInt64, UInt64, UInt64, UInt64, UInt64, UInt64,
        UInt64, UInt64, UInt64, UInt64, UInt64, UInt64, UInt64, UInt64,
        UInt64, UInt64, UInt64, UInt64, UInt64, UInt64, UInt64, UInt64
    ) = (
        0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
        0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
        0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
        0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0
    )
    /// Bytes used in `storage`; at most `capacity - 1` (one byte is kept for the newline).
    public private(set) var count: Int = 0

    /// Starts a message with `prefix`.
    @inline(never)
    public init(_ prefix: StaticString) {
        append(prefix)
    }

    @inline(never)
    mutating func appendByte(_ byte: UInt8) {
        guard count < FatalMessage.capacity - 1 else { return }
        withUnsafeMutableBytes(of: &storage) { $0[count] = byte }
        count += 1
    }

    @inline(never)
    mutating func append(_ text: StaticString) {
        text.withUTF8Buffer { for byte in $0 { appendByte(byte) } }
    }

    /// Appends literal text.
    @inline(never)
    public func text(_ text: StaticString) -> FatalMessage {
        var copy = self
        copy.append(text)
        return copy
    }

    /// Appends `value` as `0x` followed by lowercase hexadecimal digits.
    @inline(never)
    public func hex(_ value: UInt) -> FatalMessage {
        var copy = self
        copy.appendByte(UInt8(ascii: "0"))
        copy.appendByte(UInt8(ascii: "x"))
        var started = false
        for shift in stride(from: UInt.bitWidth - 4, through: 0, by: -4) {
            let digit = UInt8(truncatingIfNeeded: (value >> UInt(shift)) & 0xF)
            if digit != 0 || started || shift == 0 {
                started = true
                copy.appendByte(digit < 10 ? UInt8(ascii: "0") + digit : UInt8(ascii: "a") + digit - 10)
            }
        }
        return copy
    }

    /// Appends a pointer's address in hexadecimal (`0x0` for nil).
    @inline(never)
    public func hex(_ pointer: UnsafeRawPointer?) -> FatalMessage {
        hex(UInt(bitPattern: pointer))
    }

    /// Appends `value` in decimal, with a leading `-` when negative.
    @inline(never)
    public func decimal(_ value: Int) -> FatalMessage {
        var copy = self
        var magnitude = value.magnitude
        if value < 0 { copy.appendByte(UInt8(ascii: "-")) }
        // 20 digits hold any UInt64.
        var digits: (UInt64, UInt64, UInt64) = (0, 0, 0)
        var n = 0
        withUnsafeMutableBytes(of: &digits) { buffer in
            repeat {
                buffer[n] = UInt8(ascii: "0") + UInt8(magnitude % 10)
                magnitude /= 10
                n += 1
            } while magnitude != 0
            while n > 0 {
                n -= 1
                copy.appendByte(buffer[n])
            }
        }
        return copy
    }

    /// Appends an unsigned value in decimal.
    @inline(never)
    public func decimal(_ value: UInt) -> FatalMessage {
        if value <= UInt(Int.max) { return decimal(Int(value)) }
        return decimal(Int(value / 10)).decimal(Int(value % 10))
    }

    /// Calls `body` with the message's bytes (no trailing newline).
    public func withBytes<R>(_ body: (UnsafeRawBufferPointer) throws -> R) rethrows -> R {
        var copy = storage
        let n = count
        return try withUnsafeBytes(of: &copy) { try body(UnsafeRawBufferPointer(rebasing: $0[0..<n])) }
    }

    /// Writes the message and a newline to stderr without allocating.
    @inline(never)
    public func write() {
        var copy = self
        copy.count = min(count, FatalMessage.capacity - 1)
        withUnsafeMutableBytes(of: &copy.storage) { buffer in
            buffer[copy.count] = UInt8(ascii: "\n")
            numaheap_write_stderr(buffer.baseAddress!.assumingMemoryBound(to: CChar.self), copy.count + 1)
        }
    }

    /// Writes the message to stderr and aborts the process (SIGABRT), as glibc does
    /// for `free(): invalid pointer`.
    @inline(never)
    public func crash() -> Never {
        write()
        numaheap_abort()
    }
}

/// Checks an invariant in every build configuration; when it does not hold,
/// reports `message` through ``FatalMessage`` and aborts.
///
/// Use for invariants whose failure needs no values in the message; build a
/// ``FatalMessage`` by hand to include them.
@inlinable @inline(__always)
public func check(_ condition: Bool, _ message: StaticString) {
    if _slowPath(!condition) { FatalMessage(message).crash() }
}
