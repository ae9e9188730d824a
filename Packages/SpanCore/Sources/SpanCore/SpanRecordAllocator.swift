import Platform

/// Allocates span records — a ``Span`` followed by its three bitmaps — from
/// memory it maps itself (Go's `fixalloc` for `mheap.spanalloc`).
///
/// Records come in three sizes by bitmap words (1, 4 and 16 words: spans of up
/// to 64, 256 and 1024 objects), so a span of large objects does not pay for the
/// bitmaps of the 8-byte class. Each size has a free list threaded through dead
/// records and a bump region carved from 256 KiB mappings. Memory is never
/// returned to the system: span records are few (one per span) and reused.
///
/// Not thread-safe: the heap calls it under its lock (Go's `mheap.lock`
/// protects `spanalloc` the same way).
public struct SpanRecordAllocator: ~Copyable {
    /// Bitmap words of each bucket.
    @usableFromInline static let bucketWords: (Int, Int, Int) = (1, 4, 16)
    @usableFromInline static let chunkBytes = 256 << 10

    @usableFromInline var freeLists: (SpanRef?, SpanRef?, SpanRef?) = (nil, nil, nil)
    @usableFromInline var bumpNext: UInt = 0
    @usableFromInline var bumpEnd: UInt = 0
    /// Records handed out and not yet returned.
    public private(set) var inUse: Int = 0
    /// Bytes mapped for records.
    public private(set) var mappedBytes: Int = 0

    public init() {}

    /// The largest object count a span record can describe.
    public static var maxObjects: Int { bucketWords.2 * 64 }

    @inlinable static func words(ofBucket b: Int) -> Int {
        b == 0 ? bucketWords.0 : (b == 1 ? bucketWords.1 : bucketWords.2)
    }

    @inlinable static func recordBytes(bucket b: Int) -> Int {
        let header = (MemoryLayout<Span>.stride + 63) & ~63
        return header + 3 * 8 * words(ofBucket: b)
    }

    /// The record size (0, 1 or 2) that holds the bits of `objects` objects.
    public static func bucket(forObjects objects: Int) -> Int {
        let needWords = (max(objects, 1) + 63) / 64
        if _slowPath(needWords > bucketWords.2) {
            FatalMessage("SpanRecordAllocator: ").decimal(objects).text(" objects exceed the maximum of ")
                .decimal(maxObjects).crash()
        }
        return needWords <= bucketWords.0 ? 0 : (needWords <= bucketWords.1 ? 1 : 2)
    }

    /// A dead span record with room for `objects` objects' bits, or nil when
    /// memory cannot be mapped.
    public mutating func allocate(objects: Int) -> SpanRef? {
        allocate(bucket: SpanRecordAllocator.bucket(forObjects: objects))
    }

    /// A dead span record of record size `bucket` (see ``bucket(forObjects:)``),
    /// or nil when memory cannot be mapped.
    public mutating func allocate(bucket: Int) -> SpanRef? {
        if let head = popFree(bucket) {
            inUse += 1
            return head
        }
        let size = SpanRecordAllocator.recordBytes(bucket: bucket)
        if bumpNext + UInt(size) > bumpEnd {
            guard case .success(let chunk) = SystemMemory.mapAnonymous(bytes: SpanRecordAllocator.chunkBytes) else {
                return nil
            }
            mappedBytes += SpanRecordAllocator.chunkBytes
            bumpNext = UInt(bitPattern: chunk)
            bumpEnd = bumpNext + UInt(SpanRecordAllocator.chunkBytes)
        }
        let raw = UnsafeMutableRawPointer(bitPattern: bumpNext)!
        bumpNext += UInt(size)
        let header = (MemoryLayout<Span>.stride + 63) & ~63
        let span = raw.bindMemory(to: Span.self, capacity: 1)
        span.initialize(to: Span(bitmaps: raw + header, bitmapWords: SpanRecordAllocator.words(ofBucket: bucket),
                                 recordBucket: bucket))
        inUse += 1
        return span
    }

    /// Returns a dead span's record for reuse. Its memory stays mapped and keeps
    /// reading as a dead span, so a stale span-map entry that still points at it
    /// is recognised as a freed span.
    public mutating func free(_ span: SpanRef) {
        if _slowPath(span.pointee.spanState != .dead) {
            FatalMessage("SpanRecordAllocator: free of span ").hex(UnsafeRawPointer(span))
                .text(" in state ").decimal(Int(span.pointee.state.load(ordering: .relaxed))).crash()
        }
        let bucket = Int(span.pointee.recordBucket)
        span.pointee.next = freeListHead(bucket)
        setFreeListHead(bucket, span)
        inUse -= 1
    }

    @inlinable mutating func popFree(_ bucket: Int) -> SpanRef? {
        guard let head = freeListHead(bucket) else { return nil }
        setFreeListHead(bucket, head.pointee.next)
        head.pointee.next = nil
        return head
    }

    @inlinable func freeListHead(_ b: Int) -> SpanRef? {
        b == 0 ? freeLists.0 : (b == 1 ? freeLists.1 : freeLists.2)
    }

    @inlinable mutating func setFreeListHead(_ b: Int, _ s: SpanRef?) {
        switch b {
        case 0: freeLists.0 = s
        case 1: freeLists.1 = s
        default: freeLists.2 = s
        }
    }
}
