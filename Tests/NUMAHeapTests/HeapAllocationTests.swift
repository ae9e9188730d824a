import Glibc
@_spi(NUMAHeapInternals) import NUMAHeap
import Testing

@Suite struct HeapAllocationTests {
    @Test func everySmallSizeRoundTripsWithItsPattern() throws {
        let heap = try Heap()
        var blocks: [(UnsafeMutableRawPointer, Int)] = []
        for size in stride(from: 0, through: 32768, by: 7) {
            let p = try heap.allocate(byteCount: size)
            #expect(heap.usableSize(of: p) >= size)
            #expect(UInt(bitPattern: p) % 16 == 0 || size < 16)
            #expect(heap.owns(p))
            memset(p, Int32(size & 0xFF), size)
            blocks.append((p, size))
        }
        for (p, size) in blocks {
            let bytes = p.assumingMemoryBound(to: UInt8.self)
            for i in stride(from: 0, to: size, by: max(1, size / 16)) { #expect(bytes[i] == UInt8(size & 0xFF)) }
            heap.deallocate(p)
        }
        #expect(heap.statistics.liveObjects == 0)
    }

    @Test func largeBlocksAreWholePagesAndReusable() throws {
        let heap = try Heap()
        for size in [32769, 65536, 100_000, 1 << 20, 5 << 20, 70 << 20] {
            let p = try heap.allocate(byteCount: size)
            #expect(heap.usableSize(of: p) >= size)
            #expect(UInt(bitPattern: p) % 8192 == 0)
            memset(p, 0xA5, size)
            #expect(p.load(fromByteOffset: size - 1, as: UInt8.self) == 0xA5)
            heap.deallocate(p)
        }
        #expect(heap.statistics.largeMallocs == 6)
        #expect(heap.statistics.largeFrees == 6)
    }

    @Test(arguments: 0...20)
    func everyPowerOfTwoAlignmentIsHonoured(shift: Int) throws {
        let heap = try Heap()
        let alignment = 1 << shift
        var blocks: [UnsafeMutableRawPointer] = []
        for size in [1, 24, 100, 4000, 20000, 40000] {
            let p = try heap.allocate(byteCount: size, alignment: alignment)
            #expect(UInt(bitPattern: p) % UInt(alignment) == 0, "size \(size) alignment \(alignment) got \(p)")
            #expect(heap.usableSize(of: p) >= size)
            memset(p, 0x5A, size)
            blocks.append(p)
        }
        for p in blocks { heap.deallocate(p) }
    }

    @Test func zeroedMemoryIsZeroEvenWhenReused() throws {
        let heap = try Heap()
        for size in [8, 48, 1024, 9000, 50000] {
            var dirty: [UnsafeMutableRawPointer] = []
            for _ in 0..<64 {
                let p = try heap.allocate(byteCount: size)
                memset(p, 0xFF, size)
                dirty.append(p)
            }
            for p in dirty { heap.deallocate(p) }
            for _ in 0..<64 {
                let z = try heap.allocateZeroed(byteCount: size, alignment: 16)
                let bytes = z.assumingMemoryBound(to: UInt8.self)
                #expect((0..<size).allSatisfy { bytes[$0] == 0 }, "size \(size)")
                heap.deallocate(z)
            }
        }
    }

    @Test func reallocateKeepsContentsAcrossClassesAndToLarge() throws {
        let heap = try Heap()
        var p = try heap.allocate(byteCount: 10)
        for i in 0..<10 { p.storeBytes(of: UInt8(i), toByteOffset: i, as: UInt8.self) }
        // In place exactly while the size class stays the same (10, 12 and 16
        // bytes are all class 16); every other step changes class or kind and
        // moves. 40 000 → 200 000 is large to large: it may grow in place.
        let steps: [(size: Int, inPlace: Bool?)] = [
            (12, true), (16, true), (100, false), (3000, false), (40000, false), (200_000, nil), (50, false), (5, false),
        ]
        for (next, inPlace) in steps {
            let before = p
            p = try heap.reallocate(p, byteCount: next)
            for i in 0..<min(10, next) { #expect(p.load(fromByteOffset: i, as: UInt8.self) == UInt8(i)) }
            #expect(heap.usableSize(of: p) >= next)
            if let inPlace { #expect((p == before) == inPlace, "reallocate to \(next): \(p == before ? "stayed" : "moved")") }
        }
        heap.deallocate(p)
    }

    @Test func reallocateInPlaceWhenTheClassStillFits() throws {
        let heap = try Heap()
        let p = try heap.allocate(byteCount: 100)   // class 112
        #expect(try heap.reallocate(p, byteCount: 112) == p)
        #expect(try heap.reallocate(p, byteCount: 97) == p)
        heap.deallocate(p)
        let big = try heap.allocate(byteCount: 100_000)  // 13 pages
        #expect(try heap.reallocate(big, byteCount: 100_500) == big)
        heap.deallocate(big)
    }

    @Test func badSizesAndAlignmentsThrowNamingTheValue() throws {
        let heap = try Heap()
        #expect(throws: HeapError.invalidSize(-1)) { try heap.allocate(byteCount: -1) }
        #expect(throws: HeapError.invalidSize(Int.max)) { try heap.allocate(byteCount: Int.max) }
        #expect(throws: HeapError.invalidAlignment(3)) { try heap.allocate(byteCount: 8, alignment: 3) }
        #expect(throws: HeapError.invalidAlignment(0)) { try heap.allocate(byteCount: 8, alignment: 0) }
        #expect(throws: HeapError.invalidAlignment(-16)) { try heap.allocate(byteCount: 8, alignment: -16) }
        #expect(throws: HeapError.invalidAlignment(1 << 30)) { try heap.allocate(byteCount: 8, alignment: 1 << 30) }
        #expect(HeapError.invalidAlignment(3).description.contains("invalid alignment 3"))
        #expect(HeapError.invalidSize(-1).description.contains("invalid size -1"))
    }

    @Test func addressSpaceLimitThrowsOutOfMemory() throws {
        let heap = try Heap(configuration: HeapConfiguration(addressSpaceLimit: 64 << 20))
        let first = try heap.allocate(byteCount: 40 << 20)
        #expect(throws: HeapError.outOfMemory(requested: 40 << 20)) { try heap.allocate(byteCount: 40 << 20) }
        // Failure loses nothing: the first block is intact and the heap still works.
        memset(first, 1, 40 << 20)
        let small = try heap.allocate(byteCount: 64)
        heap.deallocate(small)
        heap.deallocate(first)
        let again = try heap.allocate(byteCount: 40 << 20)
        heap.deallocate(again)
    }

    @Test func ownsAndNodeAnswerForForeignPointers() throws {
        let heap = try Heap()
        let foreign = malloc(64)!
        defer { free(foreign) }
        #expect(!heap.owns(foreign))
        #expect(heap.node(of: foreign) == nil)
        let p = try heap.allocate(byteCount: 64)
        #expect(heap.owns(p))
        #expect(heap.node(of: p) == 0)
        #expect(!heap.owns(p + 8))
        heap.deallocate(p)
    }

    @Test func aFreedBlockIsTheNextBlockOfItsClassOnTheSameThread() throws {
        let heap = try Heap()
        let p = try heap.allocate(byteCount: 64)
        let other = try heap.allocate(byteCount: 64)
        heap.deallocate(p)
        let q = try heap.allocate(byteCount: 200)  // Another class: not p.
        #expect(q != p)
        let again = try heap.allocate(byteCount: 50)  // 50 → the 64-byte class: p, from the bin.
        #expect(again == p)
        heap.deallocate(again); heap.deallocate(q); heap.deallocate(other)
    }

    /// Blocks whose second word the program never writes, spilled from full
    /// bins to their spans (locally and remotely), swept, handed out again and
    /// freed again, must never look freed: the key a bin wrote is cleared
    /// when the block leaves the bin, and the span's bits are reset by the sweep.
    @Test func blocksFreedThroughTheirSpansAreHandedOutAgainAndFreedWithoutAReport() throws {
        let heap = try Heap()
        for size in [16, 48, 4096, 20 << 10] {
            for round in 0..<4 {
                var blocks: [UnsafeMutableRawPointer] = []
                for _ in 0..<200 {
                    let p = try heap.allocate(byteCount: size)
                    p.storeBytes(of: UInt64(round), as: UInt64.self)  // The first word only.
                    blocks.append(p)
                }
                if round % 2 == 0 {
                    for p in blocks { heap.deallocate(p) }  // Most spill from the bin to the spans.
                } else {
                    // Another thread frees them: its bin fills, the rest take the remote-free protocol.
                    let box = UnsafeMutablePointer<(Heap, [UnsafeMutableRawPointer])>.allocate(capacity: 1)
                    box.initialize(to: (heap, blocks))
                    var thread = pthread_t()
                    pthread_create(&thread, nil, { arg in
                        let b = arg!.assumingMemoryBound(to: (Heap, [UnsafeMutableRawPointer]).self)
                        for p in b.pointee.1 { b.pointee.0.deallocate(p) }
                        return nil
                    }, box)
                    pthread_join(thread, nil)
                    box.deinitialize(count: 1); box.deallocate()
                }
                heap.flushThreadCache()  // Sweeps: the spilled blocks are free in their spans, key and all.
            }
        }
        #expect(heap.statistics.liveObjects == 0)
    }

    @Test func binsAreBoundedSoFreedSpansStillGoBack() throws {
        let heap = try Heap()
        var blocks: [UnsafeMutableRawPointer] = []
        for _ in 0..<8192 { blocks.append(try heap.allocate(byteCount: 256)) }  // 2 MiB in 256 spans
        let live = heap.statistics.inUseBytes
        #expect(live >= 2 << 20)
        for p in blocks { heap.deallocate(p) }
        // The bin grew to its cap, 1024 blocks of 256 B (256 KiB); the rest
        // went back to their spans, which emptied and left the thread's cache
        // — but for the central list's kept empties (64 KiB), the thread's
        // held spans (8 of 8 KiB) and its current span.
        let sizeClass = try #require((1..<64).first { HeapCore.sizeClassBytes($0) == 256 })
        #expect(try #require(heap.core.threadBinLimits()).limits[sizeClass] == 1024)
        let afterFree = heap.statistics.inUseBytes
        #expect(afterFree <= (256 + 64 + 64 + 8) << 10, "in use after freeing 2 MiB: \(afterFree)")
        heap.flushThreadCache()
        #expect(heap.statistics.inUseBytes <= afterFree)
        #expect(heap.statistics.liveObjects == 0)
    }

    @Test func blocksFreedByAnExitingThreadGoBackToTheirSpans() throws {
        let heap = try Heap()
        var blocks: [UnsafeMutableRawPointer] = []
        for _ in 0..<100 { blocks.append(try heap.allocate(byteCount: 48)) }
        let box = UnsafeMutablePointer<(Heap, [UnsafeMutableRawPointer])>.allocate(capacity: 1)
        box.initialize(to: (heap, blocks))
        var thread = pthread_t()
        pthread_create(&thread, nil, { arg in
            let b = arg!.assumingMemoryBound(to: (Heap, [UnsafeMutableRawPointer]).self)
            for p in b.pointee.1 { b.pointee.0.deallocate(p) }  // Into this thread's bin…
            return nil                                           // …returned at its exit.
        }, box)
        pthread_join(thread, nil)
        box.deinitialize(count: 1); box.deallocate()
        // Every block is free in its span again: the main thread gets them all back
        // (a block still binned in the exited thread would be missing).
        heap.flushThreadCache()
        var seen = Set<UnsafeMutableRawPointer>()
        for _ in 0..<100_000 {
            let p = try heap.allocate(byteCount: 48)
            seen.insert(p)
            if blocks.allSatisfy(seen.contains) { break }
        }
        #expect(blocks.allSatisfy(seen.contains))
        #expect(heap.statistics.liveObjects == seen.count)
    }

    @Test func aFreedLargeSpanServesTheNextLargeBlockOfAboutItsSize() throws {
        let heap = try Heap()
        let p = try heap.allocate(byteCount: 100_000)
        memset(p, 0xAB, 100_000)
        heap.deallocate(p)
        #expect(!heap.owns(p))  // Kept by the thread, but freed.
        let smaller = try heap.allocate(byteCount: 40_000)  // Far smaller: not that span.
        #expect(smaller != p)
        let q = try heap.allocateZeroed(byteCount: 99_000)  // 13 pages, as p: the same span, zeroed.
        #expect(q == p)
        let bytes = q.assumingMemoryBound(to: UInt8.self)
        #expect((0..<99_000).allSatisfy { bytes[$0] == 0 })
        #expect(heap.usableSize(of: q) >= 99_000)
        heap.deallocate(q); heap.deallocate(smaller)
    }

    @Test func freedLargeSpansKeptByAThreadAreBounded() throws {
        let heap = try Heap()
        var blocks: [UnsafeMutableRawPointer] = []
        for _ in 0..<16 { blocks.append(try heap.allocate(byteCount: 1 << 20)) }
        let live = heap.statistics.inUseBytes
        for p in blocks { heap.deallocate(p) }
        let kept = heap.statistics.inUseBytes
        let shared = heap.statistics.nodes.map(\.sharedLargeSpanBytes).reduce(0, +)
        // At most 2 MiB of freed large spans stay with the thread; of the
        // rest, its node's stacks hold up to their limit (NodeLargeSpansTests).
        #expect(shared <= HeapCore.sharedLargeSpanLimit(inUseBytes: live))
        #expect(live - kept >= (14 << 20) - shared, "in use: \(live) live, \(kept) after the frees, \(shared) shared")
        heap.flushThreadCache()
        #expect(heap.statistics.inUseBytes <= kept - (2 << 20))
        #expect(heap.statistics.liveObjects == 0)
    }

    /// 32 KiB blocks: one block per 4-page span, so every free empties a span.
    /// The thread holds at most 16 freed spans (ThreadSpanStash.freedCapacity)
    /// besides its bin and the central list's kept empty spans, returns them on
    /// `flushThreadCache`, and a held span's next block, asked zeroed, is zero.
    @Test func spansAThreadFreesAreHeldBoundedAndReusedZeroed() throws {
        let heap = try Heap(configuration: .init(scavenging: .disabled))
        let size = 32 << 10, count = 40
        var blocks: [UnsafeMutableRawPointer] = []
        for _ in 0..<count {
            let p = try heap.allocate(byteCount: size)
            memset(p, 0xEE, size)
            blocks.append(p)
        }
        for p in blocks { heap.deallocate(p) }
        // The bin grew from 1 block to its cap of 8 (256 KiB).
        let sizeClass = try #require((1..<100).first { HeapCore.sizeClassBytes($0) == size })
        let bin = try #require(heap.core.threadBinLimits()).limits[sizeClass]
        #expect(bin == 8)
        // Held (16) + central's kept empties (64 KiB: 2) + the bin at most.
        let held = heap.statistics.inUseBytes
        #expect(held <= (16 + 2 + bin) * size, "\(held) bytes in use after freeing \(count) spans")
        // …and more than the bin and the central list keep: the thread holds some.
        #expect(held > (2 + bin) * size, "\(held) bytes in use: no freed span held")
        var dirty = 0
        var again: [UnsafeMutableRawPointer] = []
        for _ in 0..<count {
            let z = try heap.allocateZeroed(byteCount: size)
            let bytes = z.assumingMemoryBound(to: UInt8.self)
            if !(0..<size).allSatisfy({ bytes[$0] == 0 }) { dirty += 1 }
            again.append(z)
        }
        #expect(dirty == 0, "\(dirty) zeroed blocks held old bytes")
        // The freed spans were reused: no more than `count` spans' pages in use.
        #expect(heap.statistics.inUseBytes <= (count + 8 + 2 + 1) * size)
        for p in again { heap.deallocate(p) }
        heap.flushThreadCache()
        heap.releaseFreeMemory()
        #expect(heap.statistics.inUseBytes == 0, "held spans returned: \(heap.statistics.inUseBytes) bytes still in use")
    }

    /// A thread that exits while it holds freed spans returns them.
    @Test func spansHeldByAnExitingThreadGoBack() throws {
        let heap = try Heap(configuration: .init(scavenging: .disabled))
        var thread = pthread_t()
        let box = UnsafeMutablePointer<Heap>.allocate(capacity: 1)
        box.initialize(to: heap)
        defer { box.deinitialize(count: 1); box.deallocate() }
        pthread_create(&thread, nil, { arg in
            let heap = arg!.assumingMemoryBound(to: Heap.self).pointee
            var ps: [UnsafeMutableRawPointer] = []
            for _ in 0..<40 { ps.append(try! heap.allocate(byteCount: 32 << 10)) }
            for p in ps { heap.deallocate(p) }
            return nil
        }, box)
        pthread_join(thread, nil)
        // Only the central list's kept empty spans (64 KiB) remain in use.
        #expect(heap.statistics.inUseBytes <= 64 << 10, "\(heap.statistics.inUseBytes) bytes in use after the thread exited")
        heap.releaseFreeMemory()
        #expect(heap.statistics.inUseBytes == 0)
    }

    /// A large block grows in place into the free pages after it: same
    /// address, contents kept, a larger usable size, statistics that add up;
    /// when the pages after it are in use it moves, contents kept.
    @Test func reallocateGrowsALargeBlockInPlaceWhenThePagesAfterItAreFree() throws {
        let heap = try Heap(configuration: .init(scavenging: .disabled))
        var p = try heap.allocate(byteCount: 40_000)
        let bytes = { (q: UnsafeMutableRawPointer, n: Int) in q.assumingMemoryBound(to: UInt8.self) }
        for i in 0..<40_000 { bytes(p, 0)[i] = UInt8(truncatingIfNeeded: i &* 7) }
        let start = p
        var size = 40_000
        var moves = 0
        // A fresh heap's pages after the block are free: grow to 2 MiB in 10% steps.
        while size < 2 << 20 {
            let next = size + size / 10
            let q = try heap.reallocate(p, byteCount: next)
            if q != p { moves += 1 }
            #expect(heap.usableSize(of: q) >= next)
            for i in size..<next { bytes(q, 0)[i] = UInt8(truncatingIfNeeded: i &* 7) }
            p = q
            size = next
        }
        #expect(p == start && moves == 0, "moved \(moves) times")
        #expect((0..<size).allSatisfy { bytes(p, 0)[$0] == UInt8(truncatingIfNeeded: $0 &* 7) })
        // A block right after it (the page heap's lowest fit for 256 KiB on a
        // fresh heap): the next growth must move, keeping the contents.
        let blocker = try heap.allocate(byteCount: 256 << 10)
        let usable = heap.usableSize(of: p)
        #expect(UInt(bitPattern: blocker) == UInt(bitPattern: p) + UInt(usable), "the blocker is not right after the block")
        let q = try heap.reallocate(p, byteCount: usable + 100_000)
        #expect(q != p)
        #expect((0..<size).allSatisfy { bytes(q, 0)[$0] == UInt8(truncatingIfNeeded: $0 &* 7) })
        p = q
        heap.deallocate(blocker)
        heap.deallocate(p)
        let stats = heap.statistics
        #expect(stats.liveObjects == 0 && stats.liveBytes == 0, "live \(stats.liveObjects) objects, \(stats.liveBytes) bytes")
        heap.flushThreadCache()
        heap.releaseFreeMemory()
        #expect(heap.statistics.inUseBytes == 0)
    }

    @Test func statisticsAddUp() throws {
        let heap = try Heap()
        var expectedBytes = 0
        var blocks: [UnsafeMutableRawPointer] = []
        for size in [8, 16, 100, 1000, 5000, 30000, 40000, 300_000] {
            for _ in 0..<10 {
                let p = try heap.allocate(byteCount: size)
                expectedBytes += heap.usableSize(of: p)
                blocks.append(p)
            }
        }
        let stats = heap.statistics
        #expect(stats.liveObjects == blocks.count)
        #expect(stats.liveBytes == expectedBytes)
        #expect(stats.inUseBytes >= stats.liveBytes)
        #expect(stats.mappedBytes >= stats.inUseBytes + stats.idleBytes)
        for p in blocks { heap.deallocate(p) }
        #expect(heap.statistics.liveObjects == 0)
        #expect(heap.statistics.liveBytes == 0)
    }
}

@Suite struct HeapReleaseTests {
    static func residentBytes() -> Int {
        let f = fopen("/proc/self/statm", "r")!
        defer { fclose(f) }
        var size = 0, resident = 0
        withUnsafeMutablePointer(to: &size) { s in
            withUnsafeMutablePointer(to: &resident) { r in _ = withVaList([s, r]) { vfscanf(f, "%ld %ld", $0) } }
        }
        return resident * Int(sysconf(Int32(_SC_PAGESIZE)))
    }

    @Test func releaseFreeMemoryReturnsFreedPagesAndTheHeapStillWorks() throws {
        // No background scavenger: it would race releaseFreeMemory for the same
        // pages (under ASan the memsets are slow enough for it to win some).
        let heap = try Heap(configuration: HeapConfiguration(scavenging: .disabled))
        var blocks: [UnsafeMutableRawPointer] = []
        for _ in 0..<64 {
            let p = try heap.allocate(byteCount: 1 << 20)
            memset(p, 0x7F, 1 << 20)
            blocks.append(p)
        }
        let keep = try heap.allocate(byteCount: 4096)
        memset(keep, 0x11, 4096)
        let before = Self.residentBytes()
        for p in blocks { heap.deallocate(p) }
        let released = heap.releaseFreeMemory()
        #expect(released >= 64 << 20)
        let after = Self.residentBytes()
        #expect(before - after >= 48 << 20, "RSS went from \(before) to \(after)")
        #expect(heap.statistics.releasedBytes >= 64 << 20)
        #expect(heap.releaseFreeMemory() == 0)  // Nothing left to release.
        // The kept block is intact; released pages come back zeroed when reused.
        #expect((0..<4096).allSatisfy { keep.load(fromByteOffset: $0, as: UInt8.self) == 0x11 })
        let again = try heap.allocateZeroed(byteCount: 1 << 20)
        #expect((0..<(1 << 20)).allSatisfy { again.load(fromByteOffset: $0, as: UInt8.self) == 0 })
        heap.deallocate(again)
        heap.deallocate(keep)
    }
}
