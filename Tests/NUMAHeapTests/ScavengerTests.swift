// The scavenger composed in the heap: releasing never touches a live byte,
// MADV_FREE'd pages come back zeroed when asked, growth releases what it pushes
// over the goal or the memory limit, the worker's life.
import Glibc
import NUMAHeap
import SpanCore
import Synchronization
import Testing

@Suite struct ScavengerTests {
    @Test(arguments: [HeapConfiguration.TransparentHugePages.default, .always])
    func releasingNeverTouchesAnAllocatedPage(thp: HeapConfiguration.TransparentHugePages) throws {
        let heap = try Heap(configuration: .init(scavenging: .disabled, transparentHugePages: thp))
        var blocks = BlockTable(capacity: 40_000)
        defer { blocks.unmap() }
        // Small blocks of many classes (many spans) interleaved with large ones.
        let sizes = [16, 64, 200, 1024, 3000, 8192, 20000, 32768, 40000, 100_000, 300_000, 1 << 20, 3 << 20]
        var total = 0, i = 0
        while total < 160 << 20 {
            let size = sizes[i % sizes.count] + (i % 7) * 16
            let p = try heap.allocate(byteCount: size)
            memset(p, Int32(patternByte(i)), size)
            blocks.append(p, size)
            total += size
            i += 1
        }
        // Free every other block, and whole runs now and then so that spans and
        // huge pages become wholly free next to live ones.
        for j in 0..<blocks.count where j % 2 == 1 || (j / 500) % 3 == 1 {
            heap.deallocate(blocks[j].0!)
            blocks[j] = (nil, 0)
        }
        heap.flushThreadCache()
        let released = heap.releaseFreeMemory()
        #expect(released > 32 << 20)
        let stats = heap.statistics
        #expect(stats.idleBytes == 0)
        #expect(stats.scavenger.releasedBytesTotal >= released)
        var bad = 0
        for j in 0..<blocks.count {
            guard let p = blocks[j].0 else { continue }
            if !allBytes(p, blocks[j].1, equal: patternByte(j)) { bad += 1 }
        }
        #expect(bad == 0, "\(bad) live blocks changed after releasing")
        // Released pages are usable again and counted back. Every free page is
        // released now (idle is 0), and the freed 1 MiB and 3 MiB blocks left
        // holes for 1 MiB blocks worth about 70 MiB: 24 of them fit without
        // growing the heap, so each takes released pages, which count as in
        // use again.
        let reused = (0..<24).map { _ in try! heap.allocate(byteCount: 1 << 20) }
        for q in reused { memset(q, 0x5A, 1 << 20) }
        let after = heap.statistics
        #expect(after.mappedBytes == stats.mappedBytes, "the heap grew by \(after.mappedBytes - stats.mappedBytes) bytes instead of reusing released pages")
        #expect(stats.releasedBytes - after.releasedBytes >= 24 << 20,
                "released \(stats.releasedBytes) → \(after.releasedBytes) bytes after reusing 24 MiB")
        #expect(reused.allSatisfy { allBytes($0, 1 << 20, equal: 0x5A) })
        for q in reused { heap.deallocate(q) }
        for j in 0..<blocks.count { if let p = blocks[j].0 { heap.deallocate(p) } }
    }

    /// Pages released with MADV_FREE may keep their old bytes; reused through
    /// the page heap they must be zeroed for allocateZeroed (ArenaMap's
    /// allocNeedsZero marks every reused page needzero). Large blocks and
    /// small spans that went back to the page heap.
    @Test func madvFreePagesReusedAsZeroedAreZero() throws {
        let heap = try Heap(configuration: .init(scavenging: .disabled, releaseMethod: .free))
        var blocks: [UnsafeMutableRawPointer] = []
        for size in [40_000, 100_000, 1 << 20, 8 << 20] {
            for _ in 0..<8 {
                let p = try heap.allocate(byteCount: size)
                memset(p, 0xFF, size)
                blocks.append(p)
            }
        }
        for p in blocks { heap.deallocate(p) }
        #expect(heap.releaseFreeMemory() >= 64 << 20)   // MADV_FREE: contents may survive
        #expect(heap.statistics.scavenger.releaseFailures == 0)
        for size in [40_000, 100_000, 1 << 20, 8 << 20] {
            for _ in 0..<8 {
                let z = try heap.allocateZeroed(byteCount: size)
                #expect(allBytes(z, size, equal: 0), "allocateZeroed(\(size)) returned old bytes")
            }
        }
    }

    /// Small objects whose span was emptied and is handed out again. Without a
    /// release, a span all of whose objects were freed can stay on its central
    /// list (CentralList.retainedEmptyLimit) instead of going back to the page
    /// heap, and its pages keep their old bytes: the sweep that frees objects
    /// sets the span's `needzero` (Span.sweepFrees, as Go's mgcsweep.go does),
    /// so allocateZeroed clears them. After `releaseFreeMemory()` (which also
    /// returns the retained empty spans) with MADV_FREE the pages may keep
    /// their bytes too, and the page heap's `allocNeedsZero` marks them.
    @Test(arguments: [false, true])
    func smallObjectsFromAnEmptiedSpanAreZeroed(releasedFirst: Bool) throws {
        let heap = try Heap(configuration: .init(scavenging: .disabled, releaseMethod: .free))
        var blocks: [UnsafeMutableRawPointer] = []
        for _ in 0..<2000 {
            let p = try heap.allocate(byteCount: 256)
            memset(p, 0xFF, 256)
            blocks.append(p)
        }
        for p in blocks { heap.deallocate(p) }
        heap.flushThreadCache()
        if releasedFirst { heap.releaseFreeMemory() }
        var dirty = 0
        for _ in 0..<2000 where !allBytes(try heap.allocateZeroed(byteCount: 256), 256, equal: 0) { dirty += 1 }
        #expect(dirty == 0, "\(dirty) of 2000 blocks from allocateZeroed held old bytes")
    }

    @Test func growthReleasesWhatItPushesOverTheGoal() throws {
        let heap = try Heap()
        heap.stopBackgroundScavenger()          // only the inline scavenge acts
        var blocks: [UnsafeMutableRawPointer] = []
        for _ in 0..<64 {
            let p = try heap.allocate(byteCount: 1 << 20)
            memset(p, 1, 1 << 20)
            blocks.append(p)
        }
        // 4 MiB more with 64 MiB in use stays within the goal (in use + 10%).
        let extra = try heap.allocate(byteCount: 4 << 20)
        #expect(heap.statistics.scavenger.releasedOnGrowthBytes == 0)
        for p in blocks { heap.deallocate(p) }
        heap.deallocate(extra)
        // 68 MiB free and retained, nothing in use; a block that does not fit
        // in them grows the heap, and the growth releases the free pages.
        let big = try heap.allocate(byteCount: 80 << 20)
        let s = heap.statistics
        #expect(s.scavenger.releasedOnGrowthBytes >= 64 << 20)
        #expect(!s.scavenger.isRunning)
        #expect(s.mappedBytes - s.releasedBytes <= (80 << 20) + (8 << 20))
        heap.deallocate(big)
    }

    @Test func aboveTheMemoryLimitGrowthReleasesEverythingOverIt() throws {
        let heap = try Heap(configuration: .init(scavenging: .disabled, memoryLimit: 32 << 20))
        var blocks: [UnsafeMutableRawPointer] = []
        for _ in 0..<48 {
            let p = try heap.allocate(byteCount: 1 << 20)
            memset(p, 1, 1 << 20)
            blocks.append(p)
        }
        // Live memory may exceed the limit: nothing is free to release yet.
        #expect(heap.statistics.mappedBytes - heap.statistics.releasedBytes >= 48 << 20)
        for p in blocks[16...] { heap.deallocate(p) }
        let big = try heap.allocate(byteCount: 40 << 20)
        let s = heap.statistics
        #expect(s.scavenger.releasedOnGrowthBytes >= 30 << 20)
        // Retained: 16 MiB live + the 40 MiB block (+ at most a chunk of slack).
        #expect(s.mappedBytes - s.releasedBytes <= (56 << 20) + (4 << 20))
        heap.deallocate(big)
        for p in blocks[..<16] { heap.deallocate(p) }
    }

    /// The background worker advises its ranges with the node lock released;
    /// threads that allocate, fill and check large blocks meanwhile (their
    /// pages come from the same page allocator) never find a byte changed,
    /// and the worker does release.
    /// `threads` threads fill, check and free 12 MiB rounds of 256 KiB-2 MiB
    /// blocks for `nanoseconds`, flushing their caches after each round, so
    /// the heap's in-use bytes fall to nothing each round and a release finds
    /// free pages; answers the blocks whose bytes changed while they were held.
    static func blocksChangedWhileHeld(_ heap: Heap, threads count: Int, nanoseconds: Int) -> Int {
        final class Job: @unchecked Sendable {
            let heap: Heap, seed: Int, nanoseconds: Int
            var bad = 0
            init(_ h: Heap, _ s: Int, _ n: Int) { heap = h; seed = s; nanoseconds = n }
        }
        let jobs = (0..<count).map { Job(heap, $0, nanoseconds) }
        var threads: [pthread_t] = []
        for job in jobs {
            var thread = pthread_t()
            pthread_create(&thread, nil, { arg in
                let job = Unmanaged<Job>.fromOpaque(arg!).takeUnretainedValue()
                let deadline = RSSScenario.clock() + job.nanoseconds
                var round = 0
                while RSSScenario.clock() < deadline {
                    var held: [(UnsafeMutableRawPointer, Int, UInt8)] = []
                    var total = 0
                    while total < 12 << 20 {
                        let size = (256 << 10) << ((round + held.count + job.seed) % 4)
                        let p = try! job.heap.allocate(byteCount: size)
                        let byte = UInt8(truncatingIfNeeded: round &* 31 &+ held.count &+ job.seed)
                        memset(p, Int32(byte), size)
                        held.append((p, size, byte))
                        total += size
                    }
                    usleep(2000)   // room for a release between fill and check
                    for (p, size, byte) in held {
                        if !allBytes(p, size, equal: byte) { job.bad += 1 }
                        job.heap.deallocate(p)
                    }
                    job.heap.flushThreadCache()
                    round += 1
                }
                return nil
            }, Unmanaged.passUnretained(job).toOpaque())
            threads.append(thread)
        }
        for t in threads { pthread_join(t, nil) }
        return jobs.map(\.bad).reduce(0, +)
    }

    @Test func theWorkersReleaseNeverTouchesABlockAllocatedMeanwhile() throws {
        let heap = try Heap(configuration: .init(scavenging: .background(retainExtraPercent: 0),
                                                 retainedPeakWindow: .zero))
        #expect(Self.blocksChangedWhileHeld(heap, threads: 3, nanoseconds: 1_000_000_000) == 0,
                "blocks whose bytes changed while the worker released")
        #expect(heap.statistics.scavenger.releasedInBackgroundBytes > 0, "the worker released nothing")
    }

    @Test func releaseFreeMemoryNeverTouchesABlockAllocatedMeanwhile() throws {
        let heap = try Heap(configuration: .init(scavenging: .disabled))
        final class Releaser: @unchecked Sendable {
            let heap: Heap
            var released = 0
            let done = Atomic<Bool>(false)
            init(_ h: Heap) { heap = h }
        }
        let releaser = Releaser(heap)
        var thread = pthread_t()
        pthread_create(&thread, nil, { arg in
            let r = Unmanaged<Releaser>.fromOpaque(arg!).takeUnretainedValue()
            while !r.done.load(ordering: .acquiring) { r.released += r.heap.releaseFreeMemory(); usleep(500) }
            return nil
        }, Unmanaged.passUnretained(releaser).toOpaque())
        let bad = Self.blocksChangedWhileHeld(heap, threads: 2, nanoseconds: 1_000_000_000)
        releaser.done.store(true, ordering: .releasing)
        pthread_join(thread, nil)
        #expect(bad == 0, "blocks whose bytes changed while releaseFreeMemory released")
        #expect(releaser.released > 0, "releaseFreeMemory released nothing")
    }

    /// releaseFreeMemory advises batch by batch with the node lock dropped
    /// (as the worker does): releasing 32 MiB of free pages takes the lock
    /// again for each batch of at most 256 pages, where one acquisition per
    /// node held it across every `madvise`.
    @Test func releaseFreeMemoryDropsTheNodeLockBetweenBatches() throws {
        let heap = try Heap(configuration: .init(scavenging: .disabled))
        // 8 MiB blocks: above every kept and shared large-span size, so each
        // free returns its pages straight to the page heap.
        let blocks = try (0..<4).map { _ in try heap.allocate(byteCount: 8 << 20) }
        for p in blocks { memset(p, 1, 8 << 20); heap.deallocate(p) }
        heap.flushThreadCache()
        let before = heap.statistics.nodes.map(\.lockAcquisitions).reduce(0, +)
        let released = heap.releaseFreeMemory()
        let after = heap.statistics.nodes.map(\.lockAcquisitions).reduce(0, +)
        let batches = released / (256 * SizeClasses.pageSize)
        #expect(released >= 32 << 20, "released \(released) bytes")
        #expect(after - before >= batches, "\(after - before) node-lock acquisitions for \(batches) batches")
    }

    @Test func theWorkerStartsWithTheFirstGrowthAndStops() throws {
        var heap: Heap? = try Heap()
        #expect(heap!.statistics.scavenger.isRunning == false)
        let p = try heap!.allocate(byteCount: 100)
        #expect(heap!.statistics.scavenger.isRunning)
        heap!.stopBackgroundScavenger()
        #expect(heap!.statistics.scavenger.isRunning == false)
        #expect(heap!.startBackgroundScavenger())
        #expect(heap!.statistics.scavenger.isRunning)
        heap!.deallocate(p)
        heap = nil                               // deinit stops and joins the worker
        let disabled = try Heap(configuration: .init(scavenging: .disabled))
        _ = try disabled.allocate(byteCount: 100)
        #expect(disabled.statistics.scavenger.isRunning == false)
        #expect(disabled.startBackgroundScavenger() == false)
    }
}
