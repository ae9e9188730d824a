import Glibc
import NUMAHeap
import Testing

/// The two check tiers (``HeapConfiguration/Checks``), each misuse in a child
/// process (an exit test) under both tiers where both catch it: the child
/// prints the address it misuses on stdout (`addr=0x…`), and the message must
/// name that address and the reason.
@Suite struct HeapCheckTierTests {
    static func heap(full: Bool) throws -> Heap {
        try Heap(configuration: HeapConfiguration(checks: full ? .full : .standard))
    }

    /// Prints `addr=0x…` for the parent to find in the report.
    static func announce(_ pointer: UnsafeRawPointer) {
        let line = "addr=0x" + String(UInt(bitPattern: pointer), radix: 16) + "\n"
        _ = line.withCString { write(1, $0, strlen($0)) }
    }

    /// The report's text, after checking that it names the announced address.
    static func report(_ result: ExitTest.Result?, sourceLocation: SourceLocation = #_sourceLocation) -> String {
        let out = String(decoding: result?.standardOutputContent ?? [], as: UTF8.self)
        let err = String(decoding: result?.standardErrorContent ?? [], as: UTF8.self)
        guard let line = out.split(separator: "\n").first(where: { $0.hasPrefix("addr=") }) else {
            Issue.record("the child announced no address; stderr: \(err)", sourceLocation: sourceLocation)
            return err
        }
        let address = line.dropFirst(5)
        #expect(err.contains(String(address)), "the report names \(address): \(err)", sourceLocation: sourceLocation)
        return err
    }

    // MARK: Foreign pointers: the stack, a global, another heap, unmapped memory

    nonisolated(unsafe) static var global: (UInt64, UInt64, UInt64, UInt64) = (0, 0, 0, 0)

    static func freeForeign(_ kind: Int, full: Bool) throws {
        let heap = try heap(full: full)
        _ = try heap.allocate(byteCount: 64)
        switch kind {
        case 0:
            var onStack = (UInt64(1), UInt64(2))
            withUnsafeMutableBytes(of: &onStack) { announce($0.baseAddress!); heap.deallocate($0.baseAddress!) }
        case 1:
            withUnsafeMutableBytes(of: &global) { announce($0.baseAddress!); heap.deallocate($0.baseAddress!) }
        case 2:
            let other = try Heap()
            let p = try other.allocate(byteCount: 64)
            announce(p)
            heap.deallocate(p)
        default:
            let p = UnsafeMutableRawPointer(bitPattern: 0x7e00_0000_0000 as UInt)!
            announce(p)
            heap.deallocate(p)
        }
    }

    @Test func standardStopsAFreeOfAStackPointer() async {
        let r = await #expect(processExitsWith: .signal(SIGABRT), observing: [\.standardOutputContent, \.standardErrorContent]) {
            try HeapCheckTierTests.freeForeign(0, full: false)
        }
        #expect(Self.report(r).contains("invalid pointer: not allocated by this heap"))
    }

    @Test func fullStopsAFreeOfAStackPointer() async {
        let r = await #expect(processExitsWith: .signal(SIGABRT), observing: [\.standardOutputContent, \.standardErrorContent]) {
            try HeapCheckTierTests.freeForeign(0, full: true)
        }
        #expect(Self.report(r).contains("invalid pointer: not allocated by this heap"))
    }

    @Test func standardStopsAFreeOfAGlobal() async {
        let r = await #expect(processExitsWith: .signal(SIGABRT), observing: [\.standardOutputContent, \.standardErrorContent]) {
            try HeapCheckTierTests.freeForeign(1, full: false)
        }
        #expect(Self.report(r).contains("invalid pointer: not allocated by this heap"))
    }

    @Test func fullStopsAFreeOfAGlobal() async {
        let r = await #expect(processExitsWith: .signal(SIGABRT), observing: [\.standardOutputContent, \.standardErrorContent]) {
            try HeapCheckTierTests.freeForeign(1, full: true)
        }
        #expect(Self.report(r).contains("invalid pointer: not allocated by this heap"))
    }

    @Test func standardStopsAFreeOfAnotherHeapsBlock() async {
        let r = await #expect(processExitsWith: .signal(SIGABRT), observing: [\.standardOutputContent, \.standardErrorContent]) {
            try HeapCheckTierTests.freeForeign(2, full: false)
        }
        #expect(Self.report(r).contains("invalid pointer: not allocated by this heap"))
    }

    @Test func fullStopsAFreeOfAnotherHeapsBlock() async {
        let r = await #expect(processExitsWith: .signal(SIGABRT), observing: [\.standardOutputContent, \.standardErrorContent]) {
            try HeapCheckTierTests.freeForeign(2, full: true)
        }
        #expect(Self.report(r).contains("invalid pointer: not allocated by this heap"))
    }

    @Test func standardStopsAFreeOfUnmappedMemory() async {
        let r = await #expect(processExitsWith: .signal(SIGABRT), observing: [\.standardOutputContent, \.standardErrorContent]) {
            try HeapCheckTierTests.freeForeign(3, full: false)
        }
        #expect(Self.report(r).contains("invalid pointer: not allocated by this heap"))
    }

    @Test func fullStopsAFreeOfUnmappedMemory() async {
        let r = await #expect(processExitsWith: .signal(SIGABRT), observing: [\.standardOutputContent, \.standardErrorContent]) {
            try HeapCheckTierTests.freeForeign(3, full: true)
        }
        #expect(Self.report(r).contains("invalid pointer: not allocated by this heap"))
    }

    // MARK: Interior pointers, double frees, large blocks, reallocate

    static func interior(full: Bool) throws {
        let heap = try heap(full: full)
        let p = try heap.allocate(byteCount: 100)
        announce(p + 8)
        heap.deallocate(p + 8)
    }

    @Test func standardStopsAnInteriorPointer() async {
        let r = await #expect(processExitsWith: .signal(SIGABRT), observing: [\.standardOutputContent, \.standardErrorContent]) {
            try HeapCheckTierTests.interior(full: false)
        }
        #expect(Self.report(r).contains("interior pointer: 8 bytes into the block at 0x"))
    }

    @Test func fullStopsAnInteriorPointer() async {
        let r = await #expect(processExitsWith: .signal(SIGABRT), observing: [\.standardOutputContent, \.standardErrorContent]) {
            try HeapCheckTierTests.interior(full: true)
        }
        #expect(Self.report(r).contains("interior pointer: 8 bytes into the block at 0x"))
    }

    /// `traffic`: other blocks of the class and of others allocated and freed
    /// between the two frees.
    static func doubleFree(size: Int, traffic: Bool, full: Bool) throws {
        let heap = try heap(full: full)
        let p = try heap.allocate(byteCount: size)
        _ = try heap.allocate(byteCount: size)
        announce(p)
        heap.deallocate(p)
        if traffic {
            var kept: [UnsafeMutableRawPointer] = []
            for i in 0..<2000 {
                let q = try heap.allocate(byteCount: 16 + (i % 40) * 24)
                if i % 3 == 0 { kept.append(q) } else { heap.deallocate(q) }
            }
            for q in kept { heap.deallocate(q) }
        }
        heap.deallocate(p)
    }

    @Test func standardStopsAnImmediateDoubleFree() async {
        let r = await #expect(processExitsWith: .signal(SIGABRT), observing: [\.standardOutputContent, \.standardErrorContent]) {
            try HeapCheckTierTests.doubleFree(size: 48, traffic: false, full: false)
        }
        #expect(Self.report(r).contains("double free of a block of size 48"))
    }

    @Test func fullStopsAnImmediateDoubleFree() async {
        let r = await #expect(processExitsWith: .signal(SIGABRT), observing: [\.standardOutputContent, \.standardErrorContent]) {
            try HeapCheckTierTests.doubleFree(size: 48, traffic: false, full: true)
        }
        #expect(Self.report(r).contains("double free of a block of size 48"))
    }

    @Test func standardStopsADoubleFreeAfterOtherTraffic() async {
        let r = await #expect(processExitsWith: .signal(SIGABRT), observing: [\.standardOutputContent, \.standardErrorContent]) {
            try HeapCheckTierTests.doubleFree(size: 48, traffic: true, full: false)
        }
        #expect(Self.report(r).contains("double free of a block of size 48"))
    }

    @Test func fullStopsADoubleFreeAfterOtherTraffic() async {
        let r = await #expect(processExitsWith: .signal(SIGABRT), observing: [\.standardOutputContent, \.standardErrorContent]) {
            try HeapCheckTierTests.doubleFree(size: 48, traffic: true, full: true)
        }
        #expect(Self.report(r).contains("double free of a block of size 48"))
    }

    @Test func standardStopsALargeDoubleFree() async {
        let r = await #expect(processExitsWith: .signal(SIGABRT), observing: [\.standardOutputContent, \.standardErrorContent]) {
            try HeapCheckTierTests.doubleFree(size: 1 << 20, traffic: true, full: false)
        }
        #expect(Self.report(r).contains("pointer into freed memory (double free of a large block"))
    }

    @Test func fullStopsALargeDoubleFree() async {
        let r = await #expect(processExitsWith: .signal(SIGABRT), observing: [\.standardOutputContent, \.standardErrorContent]) {
            try HeapCheckTierTests.doubleFree(size: 1 << 20, traffic: true, full: true)
        }
        #expect(Self.report(r).contains("pointer into freed memory (double free of a large block"))
    }

    static func reallocateFreed(size: Int, full: Bool) throws {
        let heap = try heap(full: full)
        let p = try heap.allocate(byteCount: size)
        _ = try heap.allocate(byteCount: size)
        announce(p)
        heap.deallocate(p)
        _ = try heap.reallocate(p, byteCount: size / 2)  // Would fit in place.
    }

    @Test func standardStopsAReallocateOfAFreedBlock() async {
        let r = await #expect(processExitsWith: .signal(SIGABRT), observing: [\.standardOutputContent, \.standardErrorContent]) {
            try HeapCheckTierTests.reallocateFreed(size: 256, full: false)
        }
        #expect(Self.report(r).contains("reallocate(0x"))
    }

    @Test func fullStopsAReallocateOfAFreedBlock() async {
        let r = await #expect(processExitsWith: .signal(SIGABRT), observing: [\.standardOutputContent, \.standardErrorContent]) {
            try HeapCheckTierTests.reallocateFreed(size: 256, full: true)
        }
        let text = Self.report(r)
        #expect(text.contains("reallocate(0x") && text.contains("block of size 256"))
    }

    // MARK: A double free across nodes

    /// A 64-byte block of node 1 (splitTopology: CPU 0) freed twice, once by
    /// a thread of its node (the fast path: onto its bin) and once by a
    /// thread of node 0 (CPU 1: sent home through the remote-free protocol),
    /// in either order; then 5000 allocations, which would hand it out twice
    /// if the second free had been taken.
    static func crossNodeDoubleFree(remoteFirst: Bool) throws {
        pinCurrentThread(toCPU: 0)
        let heap = try Heap(configuration: HeapConfiguration(scavenging: .disabled), topology: splitTopology)
        let p = try heap.allocate(byteCount: 64)
        precondition(heap.node(of: p) == 1, "the block is not on node 1")
        announce(p)
        let block = SendablePointer(p: p)
        if remoteFirst {
            onThread(pinnedTo: 1) { heap.deallocate(block.p) }
            heap.deallocate(p)
        } else {
            heap.deallocate(p)
            onThread(pinnedTo: 1) { heap.deallocate(block.p) }
        }
        var seen = Set<UnsafeMutableRawPointer>()
        for _ in 0..<5000 {
            let q = try heap.allocate(byteCount: 64)
            precondition(seen.insert(q).inserted, "a block handed out twice")
        }
    }

    @Test(.enabled(if: onlineCPUs >= 2, "needs a CPU for each of the two nodes"))
    func standardStopsADoubleFreeSentHomeFromAnotherNodeFirst() async {
        let r = await #expect(processExitsWith: .signal(SIGABRT), observing: [\.standardOutputContent, \.standardErrorContent]) {
            try HeapCheckTierTests.crossNodeDoubleFree(remoteFirst: true)
        }
        #expect(Self.report(r).contains("double free of a block of size 64"))
    }

    @Test(.enabled(if: onlineCPUs >= 2, "needs a CPU for each of the two nodes"))
    func standardStopsADoubleFreeSentHomeFromAnotherNodeSecond() async {
        let r = await #expect(processExitsWith: .signal(SIGABRT), observing: [\.standardOutputContent, \.standardErrorContent]) {
            try HeapCheckTierTests.crossNodeDoubleFree(remoteFirst: false)
        }
        #expect(Self.report(r).contains("double free of a block of size 64"))
    }

    // MARK: Use after free: a write over a freed block's first 16 bytes

    /// Frees a 64-byte block, writes over its first 16 bytes (use after free)
    /// and allocates 1 000 blocks of its class, writing each: standard stops at
    /// the bin's pop (`corrupted free list at` the block); full bins nothing,
    /// so the write is ignored and every block is the heap's own.
    static func writeAfterFree(full: Bool) throws {
        let heap = try heap(full: full)
        let p = try heap.allocate(byteCount: 64)
        let keep = try heap.allocate(byteCount: 64)
        announce(p)
        heap.deallocate(p)
        p.storeBytes(of: 0x4141_4141_4141_4141, toByteOffset: 0, as: UInt64.self)
        p.storeBytes(of: 0x4242_4242_4242_4242, toByteOffset: 8, as: UInt64.self)
        var blocks: [UnsafeMutableRawPointer] = []
        for _ in 0..<1000 {
            let q = try heap.allocate(byteCount: 64)
            precondition(heap.owns(q) && UInt(bitPattern: q) & 15 == 0, "a block the heap does not own: \(q)")
            q.initializeMemory(as: UInt8.self, repeating: 0x5a, count: 64)
            blocks.append(q)
        }
        precondition(Set(blocks).count == blocks.count && !blocks.contains(keep), "a block handed out twice")
    }

    @Test func standardStopsAtAFreeListLinkWrittenAfterTheFree() async {
        let r = await #expect(processExitsWith: .signal(SIGABRT), observing: [\.standardOutputContent, \.standardErrorContent]) {
            try HeapCheckTierTests.writeAfterFree(full: false)
        }
        #expect(Self.report(r).contains("NUMAHeap: corrupted free list at 0x"))
    }

    @Test func fullIgnoresAWriteAfterFree() async {
        await #expect(processExitsWith: .success) {
            try HeapCheckTierTests.writeAfterFree(full: true)
        }
    }

    // MARK: Exact in the full tier only

    /// A double free of a block whose first 16 bytes the program wrote after
    /// the first free: no free mark is left to see.
    static func overwrittenDoubleFree(full: Bool) throws {
        let heap = try heap(full: full)
        let p = try heap.allocate(byteCount: 80)
        _ = try heap.allocate(byteCount: 80)
        announce(p)
        heap.deallocate(p)
        p.initializeMemory(as: UInt8.self, repeating: 0x33, count: 16)
        heap.deallocate(p)
        _ = try heap.allocate(byteCount: 80)
        _ = try heap.allocate(byteCount: 80)
    }

    @Test func fullStopsADoubleFreeOfAnOverwrittenBlock() async {
        let r = await #expect(processExitsWith: .signal(SIGABRT), observing: [\.standardOutputContent, \.standardErrorContent]) {
            try HeapCheckTierTests.overwrittenDoubleFree(full: true)
        }
        #expect(Self.report(r).contains("deallocate(0x") && Self.report(r).contains("double free of a block of size 80"))
    }

    static func usableSizeOfFreed(full: Bool) throws {
        let heap = try heap(full: full)
        let p = try heap.allocate(byteCount: 200)
        _ = try heap.allocate(byteCount: 200)
        announce(p)
        heap.deallocate(p)
        print(heap.usableSize(of: p))
    }

    @Test func fullStopsAUsableSizeOfAFreedBlock() async {
        let r = await #expect(processExitsWith: .signal(SIGABRT), observing: [\.standardOutputContent, \.standardErrorContent]) {
            try HeapCheckTierTests.usableSizeOfFreed(full: true)
        }
        #expect(Self.report(r).contains("usableSize(0x") && Self.report(r).contains("use of a freed block of size 208"))
    }

    /// The standard tier answers usableSize from the span record alone (the
    /// documented difference): the child prints the size and exits normally.
    @Test func standardAnswersAUsableSizeOfAFreedBlockFromTheSpan() async {
        await #expect(processExitsWith: .success) {
            try HeapCheckTierTests.usableSizeOfFreed(full: false)
        }
    }

    @Test func fullStopsAFreeOfABlockNeverHandedOut() async {
        let r = await #expect(processExitsWith: .signal(SIGABRT), observing: [\.standardOutputContent, \.standardErrorContent]) {
            let heap = try HeapCheckTierTests.heap(full: true)
            let p = try heap.allocate(byteCount: 1024)
            HeapCheckTierTests.announce(p + 1024 * 5)
            heap.deallocate(p + 1024 * 5)  // A block of the same span that was never handed out.
        }
        #expect(Self.report(r).contains("is not allocated"))
    }
}
