import Glibc
import NUMAHeap
import Testing

/// Each misuse stops the process with a message naming the address; each runs in
/// a child process (an exit test) and the message is checked.
@Suite struct HeapMisuseTests {
    static func stderrText(_ result: ExitTest.Result?) -> String {
        String(decoding: result?.standardErrorContent ?? [], as: UTF8.self)
    }

    @Test func freeOfAForeignPointer() async {
        let r = await #expect(processExitsWith: .signal(SIGABRT), observing: [\.standardErrorContent]) {
            let heap = try Heap()
            let foreign = malloc(32)!
            heap.deallocate(foreign)
        }
        let text = Self.stderrText(r)
        #expect(text.contains("NUMAHeap: deallocate(0x"))
        #expect(text.contains("invalid pointer: not allocated by this heap"))
    }

    @Test func usableSizeOfAForeignPointer() async {
        let r = await #expect(processExitsWith: .signal(SIGABRT), observing: [\.standardErrorContent]) {
            let heap = try Heap()
            _ = heap.usableSize(of: malloc(32)!)
        }
        let text = Self.stderrText(r)
        #expect(text.contains("NUMAHeap: usableSize(0x"))
        #expect(text.contains("invalid pointer: not allocated by this heap"))
    }

    @Test func reallocateOfAForeignPointer() async {
        let r = await #expect(processExitsWith: .signal(SIGABRT), observing: [\.standardErrorContent]) {
            let heap = try Heap()
            _ = try heap.reallocate(malloc(32)!, byteCount: 64)
        }
        let text = Self.stderrText(r)
        #expect(text.contains("NUMAHeap: reallocate(0x"))
        #expect(text.contains("invalid pointer: not allocated by this heap"))
    }

    @Test func doubleFreeOfASmallBlock() async {
        let r = await #expect(processExitsWith: .signal(SIGABRT), observing: [\.standardErrorContent]) {
            let heap = try Heap()
            let p = try heap.allocate(byteCount: 48)
            _ = try heap.allocate(byteCount: 48)
            heap.deallocate(p)
            heap.deallocate(p)
        }
        #expect(Self.stderrText(r).contains("double free of a block of size 48"))
    }

    @Test func doubleFreeFromTwoThreads() async {
        let r = await #expect(processExitsWith: .signal(SIGABRT), observing: [\.standardErrorContent]) {
            let heap = try Heap()
            let p = try heap.allocate(byteCount: 64)
            _ = try heap.allocate(byteCount: 64)
            heap.deallocate(p)
            // The same block freed again by another thread.
            var thread = pthread_t()
            let box = UnsafeMutablePointer<(Heap, UnsafeMutableRawPointer)>.allocate(capacity: 1)
            box.initialize(to: (heap, p))
            pthread_create(&thread, nil, { arg in
                let b = arg!.assumingMemoryBound(to: (Heap, UnsafeMutableRawPointer).self)
                b.pointee.0.deallocate(b.pointee.1)
                return nil
            }, box)
            pthread_join(thread, nil)
            // If the other thread's free was not caught at once, the owner's sweep catches it.
            for _ in 0..<10_000 { _ = try heap.allocate(byteCount: 64) }
        }
        #expect(Self.stderrText(r).contains("double free of"))
    }

    @Test func interiorPointer() async {
        let r = await #expect(processExitsWith: .signal(SIGABRT), observing: [\.standardErrorContent]) {
            let heap = try Heap()
            let p = try heap.allocate(byteCount: 100)
            heap.deallocate(p + 8)
        }
        let text = Self.stderrText(r)
        #expect(text.contains("interior pointer: 8 bytes into the block at 0x"))
        #expect(text.contains("of size 112"))
    }

    @Test func freeOfAFreedLargeBlock() async {
        let r = await #expect(processExitsWith: .signal(SIGABRT), observing: [\.standardErrorContent]) {
            let heap = try Heap()
            let p = try heap.allocate(byteCount: 1 << 20)
            heap.deallocate(p)
            heap.deallocate(p)
        }
        #expect(Self.stderrText(r).contains("pointer into freed memory (double free of a large block"))
    }

    @Test func reallocateOfAFreedPointer() async {
        let r = await #expect(processExitsWith: .signal(SIGABRT), observing: [\.standardErrorContent]) {
            let heap = try Heap()
            let p = try heap.allocate(byteCount: 256)
            _ = try heap.allocate(byteCount: 256)
            heap.deallocate(p)
            _ = try heap.reallocate(p, byteCount: 1000)
        }
        #expect(Self.stderrText(r).contains("NUMAHeap: reallocate(0x"))
        #expect(Self.stderrText(r).contains("double free of a block of size 256"))
    }

    // The thread's free-object bins (ThreadObjectCache): a second free is caught
    // wherever the first one left the block.

    @Test func doubleFreeAfterTheBinReturnedTheBlockToItsSpan() async {
        let r = await #expect(processExitsWith: .signal(SIGABRT), observing: [\.standardErrorContent]) {
            let heap = try Heap()
            let p = try heap.allocate(byteCount: 96)
            _ = try heap.allocate(byteCount: 96)
            heap.deallocate(p)
            heap.flushThreadCache()  // The bin gives p back to its span, which is swept.
            heap.deallocate(p)
        }
        // The sweep made p free again in the span: it is "not allocated" now.
        #expect(Self.stderrText(r).contains("block of size 96 is not allocated (double free"))
    }

    @Test func doubleFreeAfterAFullBinSpilledHalf() async {
        let r = await #expect(processExitsWith: .signal(SIGABRT), observing: [\.standardErrorContent]) {
            let heap = try Heap()
            // 4096-byte bins hold 8 blocks: freeing 40 spills half the bin four times.
            var blocks: [UnsafeMutableRawPointer] = []
            for _ in 0..<40 { blocks.append(try heap.allocate(byteCount: 4096)) }
            for b in blocks { heap.deallocate(b) }
            heap.deallocate(blocks[0])  // Long since spilled to its span.
        }
        #expect(Self.stderrText(r).contains("double free of a block of size 4096"))
    }

    /// 64-byte bins hold 128 blocks; 300 blocks fill spans of 128 (blocks
    /// 0…127, 128…255) and the thread's current span (256…299). 84 blocks of
    /// the first span and the 44 of the current one fill the bin; the next free
    /// spills the 64 most recent — 256…299 to the local free bits of the span
    /// the thread owns, 64…83 through the remote-free protocol (the full span
    /// left the cache). The spans stay in use and unswept, and the bin has room
    /// again: the free mark, which the spill kept, sends the second free to
    /// the slow path, whose reading of the span's bits names it. With `scribble` (the
    /// program wrote over the block's second word after freeing it, so no mark
    /// is left) the heap is `.full`, whose frees all go through the span's bits.
    static func spillThenFreeAgain(_ block: Int, scribble: Bool = false) throws {
        let heap = try Heap(configuration: HeapConfiguration(checks: scribble ? .full : .standard))
        var blocks: [UnsafeMutableRawPointer] = []
        for _ in 0..<300 { blocks.append(try heap.allocate(byteCount: 64)) }
        for i in Array(0..<84) + Array(256..<300) + [84] { heap.deallocate(blocks[i]) }
        if scribble { blocks[block].storeBytes(of: 0x5151_5151, toByteOffset: 8, as: UInt64.self) }  // Use after free.
        heap.deallocate(blocks[block])
    }

    @Test func doubleFreeOfASpilledBlockWrittenAfterTheFirstFreeLocalBits() async {
        let r = await #expect(processExitsWith: .signal(SIGABRT), observing: [\.standardErrorContent]) {
            try HeapMisuseTests.spillThenFreeAgain(280, scribble: true)
        }
        #expect(Self.stderrText(r).contains("double free of a block of size 64"))
    }

    @Test func doubleFreeOfASpilledBlockWrittenAfterTheFirstFreeRemoteBits() async {
        let r = await #expect(processExitsWith: .signal(SIGABRT), observing: [\.standardErrorContent]) {
            try HeapMisuseTests.spillThenFreeAgain(70, scribble: true)
        }
        #expect(Self.stderrText(r).contains("double free of a block of size 64"))
    }

    @Test func doubleFreeOfABlockASpillLeftInTheLocalFreeBitsOfItsLiveSpan() async {
        let r = await #expect(processExitsWith: .signal(SIGABRT), observing: [\.standardErrorContent]) {
            try HeapMisuseTests.spillThenFreeAgain(280)
        }
        #expect(Self.stderrText(r).contains("double free of a block of size 64"))
    }

    @Test func doubleFreeOfABlockASpillSentThroughTheRemoteFreeProtocol() async {
        let r = await #expect(processExitsWith: .signal(SIGABRT), observing: [\.standardErrorContent]) {
            try HeapMisuseTests.spillThenFreeAgain(70)
        }
        #expect(Self.stderrText(r).contains("double free of a block of size 64"))
    }

    @Test func doubleFreeOfAnEightByteBlockThatIsNeverBinned() async {
        let r = await #expect(processExitsWith: .signal(SIGABRT), observing: [\.standardErrorContent]) {
            let heap = try Heap()
            let p = try heap.allocate(byteCount: 8, alignment: 8)
            _ = try heap.allocate(byteCount: 8, alignment: 8)
            heap.deallocate(p)
            heap.deallocate(p)
        }
        #expect(Self.stderrText(r).contains("double free of a block of size 8"))
    }
    @Test func reallocateOfAFreedLargeBlockKeptByTheThread() async {
        let r = await #expect(processExitsWith: .signal(SIGABRT), observing: [\.standardErrorContent]) {
            let heap = try Heap()
            let p = try heap.allocate(byteCount: 100_000)
            heap.deallocate(p)  // Kept for reuse (ThreadLargeSpans), but freed.
            _ = try heap.reallocate(p, byteCount: 200_000)
        }
        #expect(Self.stderrText(r).contains("NUMAHeap: reallocate(0x"))
        #expect(Self.stderrText(r).contains("pointer into freed memory"))
    }
}
