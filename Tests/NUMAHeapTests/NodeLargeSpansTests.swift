// The large spans a node's threads share (NodeLargeSpans): what goes there,
// who gets it back, and when it returns to the page heap.

import Glibc
@_spi(NUMAHeapInternals) import NUMAHeap
import Testing

@Suite struct NodeLargeSpansTests {
    /// The classes are the rounded large-span sizes from 5 to 32 pages
    /// (256 KiB), and only those have a class.
    @Test func classesAreTheRoundedSpanSizes() {
        let pages = HeapCore.sharedLargeSpanClassPages
        #expect(pages.first == 5 && pages.last == 32 && pages.count == 12)
        #expect(zip(pages, pages.dropFirst()).allSatisfy { $0 < $1 })
        for (c, p) in pages.enumerated() {
            #expect(HeapCore.sharedLargeSpanClass(pages: p) == c)
            #expect(HeapCore.largeSpanPages(forPages: p) == p, "class \(c) (\(p) pages) is not a rounded size")
        }
        for p in 1...300 where !pages.contains(p) {
            #expect(HeapCore.sharedLargeSpanClass(pages: p) == nil, "\(p) pages")
            if p > 4 && p <= 32 { #expect(HeapCore.largeSpanPages(forPages: p) != p, "\(p) pages is rounded to itself") }
        }
    }

    @Test func theLimitIsAQuarterOfTheNodesInUseWithinBounds() {
        #expect(HeapCore.sharedLargeSpanLimit(inUseBytes: 0) == 8 << 20)
        #expect(HeapCore.sharedLargeSpanLimit(inUseBytes: 100 << 20) == 25 << 20)
        #expect(HeapCore.sharedLargeSpanLimit(inUseBytes: 1 << 40) == 64 << 20)
    }

    /// Runs `body` on a new thread and waits for it.
    static func onAnotherThread(_ body: @escaping @Sendable () -> Void) {
        final class Box: @unchecked Sendable { let body: @Sendable () -> Void; init(_ b: @escaping @Sendable () -> Void) { body = b } }
        var t = pthread_t()
        let box = Unmanaged.passRetained(Box(body)).toOpaque()
        pthread_create(&t, nil, { arg in
            Unmanaged<Box>.fromOpaque(arg!).takeRetainedValue().body()
            return nil
        }, box)
        pthread_join(t, nil)
    }

    /// Bytes on every node's shared stacks now.
    static func shared(_ heap: Heap) -> Int { heap.statistics.nodes.map(\.sharedLargeSpanBytes).reduce(0, +) }

    /// Allocates and frees `count` blocks of `size` bytes on this thread (the
    /// thread keeps 8 spans; the rest go to its node's stacks).
    @discardableResult
    static func allocateAndFree(_ heap: Heap, count: Int, size: Int) throws -> [UnsafeMutableRawPointer] {
        let blocks = try (0..<count).map { _ in try heap.allocate(byteCount: size) }
        for p in blocks { heap.deallocate(p) }
        return blocks
    }

    final class Addresses: @unchecked Sendable { var list: [UInt] = []; var lockDelta = 0 }

    /// A thread frees 12 blocks of 200 000 bytes (28-page spans): it keeps 8,
    /// the other 4 go to its node's stacks; another thread's 4 blocks of that
    /// size are those 4 spans, taken without the node lock.
    @Test func spansAThreadCannotKeepServeAnotherThreadWithoutTheNodeLock() throws {
        let heap = try Heap(configuration: .init(scavenging: .disabled))
        let size = 200_000
        let blocks = try Self.allocateAndFree(heap, count: 12, size: size)
        let spanBytes = HeapCore.largeSpanPages(forPages: (size + 8191) / 8192) * 8192
        #expect(Self.shared(heap) == 4 * spanBytes)
        let got = Addresses()
        Self.onAnotherThread {
            // The thread's cache first (binding it may take locks), then the blocks.
            heap.deallocate(try! heap.allocate(byteCount: 16))
            let before = heap.statistics.nodes.map(\.lockAcquisitions).reduce(0, +)
            for _ in 0..<4 { got.list.append(UInt(bitPattern: try! heap.allocate(byteCount: size))) }
            let after = heap.statistics.nodes.map(\.lockAcquisitions).reduce(0, +)
            got.lockDelta = after - before
            for a in got.list { heap.deallocate(UnsafeMutableRawPointer(bitPattern: a)!) }
        }
        let freed = Set(blocks.map { UInt(bitPattern: $0) })
        #expect(got.list.allSatisfy(freed.contains), "another thread's blocks are not the shared spans")
        // One acquisition: the statistics' own reading of the node's figures.
        #expect(got.lockDelta == 1)
        heap.flushThreadCache()
    }

    /// The trim pass returns a stack that saw no use since its previous look;
    /// releaseFreeMemory returns them all at once. Their pages then leave the
    /// in-use figure.
    @Test func idleSharedSpansGoBackToThePageHeap() throws {
        let heap = try Heap(configuration: .init(scavenging: .disabled))
        func shared() -> Int { Self.shared(heap) }
        try Self.allocateAndFree(heap, count: 12, size: 200_000)
        #expect(shared() > 0)
        let inUse = heap.statistics.inUseBytes
        heap.core.trimIdleThreads()  // the first look: the stacks have just been used
        #expect(shared() > 0)
        heap.core.trimIdleThreads()  // no use since: returned
        #expect(shared() == 0)
        #expect(heap.statistics.inUseBytes < inUse)

        try Self.allocateAndFree(heap, count: 12, size: 150_000)
        #expect(shared() > 0)
        heap.releaseFreeMemory()
        #expect(shared() == 0)
        #expect(heap.statistics.inUseBytes == 0)
    }

    /// An allocation the free pages cannot hold returns the shared spans to
    /// the page heap before the heap grows.
    @Test func theSharedSpansGoBackBeforeTheHeapGrows() throws {
        let heap = try Heap(configuration: .init(scavenging: .disabled))
        try Self.allocateAndFree(heap, count: 12, size: 200_000)
        #expect(Self.shared(heap) > 0)
        let big = try heap.allocate(byteCount: 64 << 20)
        #expect(Self.shared(heap) == 0)
        heap.deallocate(big)
    }

    /// 60 blocks of 200 000 bytes (13 MiB of spans) freed: the node holds no
    /// more than its limit (a quarter of its bytes in use, at least 8 MiB),
    /// and does fill to it; 1 MiB blocks are not shared at all.
    @Test func aNodeHoldsNoMoreThanItsLimit() throws {
        let heap = try Heap(configuration: .init(scavenging: .disabled))
        try Self.allocateAndFree(heap, count: 12, size: 1 << 20)
        #expect(Self.shared(heap) == 0)
        let blocks = try (0..<60).map { _ in try heap.allocate(byteCount: 200_000) }
        let limit = HeapCore.sharedLargeSpanLimit(inUseBytes: heap.statistics.inUseBytes)
        for p in blocks { heap.deallocate(p) }
        let shared = Self.shared(heap)
        #expect(shared <= limit, "\(shared) bytes shared, limit \(limit)")
        #expect(shared >= (8 << 20) - 28 * 8192, "\(shared) bytes shared")
        heap.releaseFreeMemory()
    }

    /// A second free of a block whose span another thread's free put on the
    /// node's stacks is reported as a free of freed memory.
    @Test func aSecondFreeOfASharedSpansBlockIsReported() async {
        let r = await #expect(processExitsWith: .signal(SIGABRT), observing: [\.standardErrorContent]) {
            let heap = try Heap()
            // The first 4 are then on the node's stacks.
            let blocks = try NodeLargeSpansTests.allocateAndFree(heap, count: 12, size: 200_000)
            heap.deallocate(blocks[0])
        }
        let text = String(decoding: r?.standardErrorContent ?? [], as: UTF8.self)
        #expect(text.contains("pointer into freed memory (double free of a large block"), "\(text)")
    }
}
