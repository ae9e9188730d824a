import Central
import Glibc
@_spi(NUMAHeapInternals) import NUMAHeap
import Synchronization
import Testing

/// Many threads allocate, write a pattern into every byte, verify it, reallocate
/// and free — half of the frees on another thread than the allocating one.
@Suite struct HeapStressTests {
    /// A block in flight between threads: address, size and pattern seed.
    struct Block { var address: UInt; var size: Int; var seed: UInt8 }

    /// Slots where threads leave blocks for other threads to free.
    final class Exchange: @unchecked Sendable {
        let locks: UnsafeMutablePointer<Atomic<Int>>
        let addresses: UnsafeMutablePointer<UInt>
        let metas: UnsafeMutablePointer<Int>
        let count: Int
        init(count: Int) {
            self.count = count
            locks = .allocate(capacity: count)
            for i in 0..<count { (locks + i).initialize(to: Atomic(0)) }
            addresses = .allocate(capacity: count)
            addresses.initialize(repeating: 0, count: count)
            metas = .allocate(capacity: count)
            metas.initialize(repeating: 0, count: count)
        }
        deinit { locks.deallocate(); addresses.deallocate(); metas.deallocate() }

        /// Runs `body` on slot `i`'s address and size/seed word under the slot's spin lock.
        func withSlot(_ i: Int, _ body: (inout UInt, inout Int) -> Void) {
            while !locks[i].compareExchange(expected: 0, desired: 1, ordering: .acquiring).exchanged { sched_yield() }
            body(&addresses[i], &metas[i])
            locks[i].store(0, ordering: .releasing)
        }
    }

    static func fill(_ p: UnsafeMutableRawPointer, _ size: Int, _ seed: UInt8) {
        let b = p.assumingMemoryBound(to: UInt8.self)
        for i in 0..<size { b[i] = seed &+ UInt8(truncatingIfNeeded: i &* 31) }
    }

    static func verify(_ p: UnsafeMutableRawPointer, _ size: Int, _ seed: UInt8) -> Bool {
        let b = p.assumingMemoryBound(to: UInt8.self)
        for i in 0..<size where b[i] != seed &+ UInt8(truncatingIfNeeded: i &* 31) { return false }
        return true
    }

    struct Worker: @unchecked Sendable {
        let heap: Heap
        let exchange: Exchange
        let id: Int
        let operations: Int
        let failures: UnsafeMutablePointer<Atomic<Int>>

        func run() {
            var rng = SystemRandomNumberGenerator()
            var mine: [(UnsafeMutableRawPointer, Int, UInt8)] = []
            func randomSize() -> Int {
                switch Int.random(in: 0..<100, using: &rng) {
                case 0..<70: return Int.random(in: 1...256, using: &rng)
                case 70..<95: return Int.random(in: 257...32768, using: &rng)
                default: return Int.random(in: 32769...(1 << 20), using: &rng)
                }
            }
            for op in 0..<operations {
                let action = Int.random(in: 0..<10, using: &rng)
                if action < 5 || mine.isEmpty {
                    let size = randomSize()
                    guard let p = try? heap.allocate(byteCount: size) else { failures.pointee.add(1, ordering: .relaxed); continue }
                    let seed = UInt8(truncatingIfNeeded: op &+ id)
                    HeapStressTests.fill(p, size, seed)
                    mine.append((p, size, seed))
                } else if action < 7 {
                    let i = Int.random(in: 0..<mine.count, using: &rng)
                    let (p, size, seed) = mine.swapAt(i)
                    if !HeapStressTests.verify(p, size, seed) { failures.pointee.add(1, ordering: .relaxed) }
                    heap.deallocate(p)
                } else if action < 8 {
                    let i = Int.random(in: 0..<mine.count, using: &rng)
                    let (p, size, seed) = mine[i]
                    let newSize = randomSize()
                    guard let q = try? heap.reallocate(p, byteCount: newSize) else { failures.pointee.add(1, ordering: .relaxed); continue }
                    if !HeapStressTests.verify(q, min(size, newSize), seed) { failures.pointee.add(1, ordering: .relaxed) }
                    HeapStressTests.fill(q, newSize, seed)
                    mine[i] = (q, newSize, seed)
                } else {
                    // Hand a block to another thread, and free whatever was waiting in the slot.
                    let i = Int.random(in: 0..<mine.count, using: &rng)
                    let (p, size, seed) = mine.swapAt(i)
                    let slot = Int.random(in: 0..<exchange.count, using: &rng)
                    var taken: (UInt, Int) = (0, 0)
                    exchange.withSlot(slot) { address, meta in
                        taken = (address, meta)
                        if address == 0 {
                            address = UInt(bitPattern: p)
                            meta = size << 8 | Int(seed)
                        } else {
                            address = 0
                        }
                    }
                    if taken.0 != 0 {
                        // Keep ours; free the one that was waiting (allocated by some other thread).
                        let q = UnsafeMutableRawPointer(bitPattern: taken.0)!
                        if !HeapStressTests.verify(q, taken.1 >> 8, UInt8(taken.1 & 0xFF)) { failures.pointee.add(1, ordering: .relaxed) }
                        heap.deallocate(q)
                        mine.append((p, size, seed))
                    }
                }
            }
            for (p, size, seed) in mine {
                if !HeapStressTests.verify(p, size, seed) { failures.pointee.add(1, ordering: .relaxed) }
                heap.deallocate(p)
            }
        }
    }

    /// Both check tiers: the standard tier's bins and the full tier's frees
    /// through the spans' bits (local and remote) under the same traffic.
    @Test(arguments: [HeapConfiguration.Checks.standard, .full])
    func eightThreadsWithCrossThreadFrees(checks: HeapConfiguration.Checks) throws {
        let heap = try Heap(configuration: HeapConfiguration(checks: checks))
        let exchange = Exchange(count: 64)
        let failures = UnsafeMutablePointer<Atomic<Int>>.allocate(capacity: 1)
        failures.initialize(to: Atomic(0))
        defer { failures.deallocate() }
        let threads = 8
        // NUMAHEAP_STRESS_OPS shortens the run (CI's ThreadSanitizer pass uses it).
        let operations = getenv("NUMAHEAP_STRESS_OPS").flatMap { Int(String(cString: $0)) } ?? 20_000
        let workers = (0..<threads).map { Worker(heap: heap, exchange: exchange, id: $0, operations: operations, failures: failures) }
        var handles: [pthread_t] = []
        for w in workers {
            let box = UnsafeMutablePointer<Worker>.allocate(capacity: 1)
            box.initialize(to: w)
            var t = pthread_t()
            #expect(pthread_create(&t, nil, { arg in
                let b = arg!.assumingMemoryBound(to: Worker.self)
                b.pointee.run()
                b.deinitialize(count: 1)
                b.deallocate()
                return nil
            }, box) == 0)
            handles.append(t)
        }
        for t in handles { pthread_join(t, nil) }
        // Blocks still parked in the exchange.
        var parked = 0
        for slot in 0..<exchange.count {
            let old = exchange.addresses[slot]
            if old != 0 {
                let meta = exchange.metas[slot]
                let q = UnsafeMutableRawPointer(bitPattern: old)!
                #expect(HeapStressTests.verify(q, meta >> 8, UInt8(meta & 0xFF)))
                parked += 1
                heap.deallocate(q)
            }
        }
        #expect(failures.pointee.load(ordering: .relaxed) == 0)
        let stats = heap.statistics
        #expect(stats.liveObjects == 0, "live objects after every free: \(stats.liveObjects)")
        #expect(stats.liveBytes == 0)
        #expect(stats.mallocs == stats.frees)
    }

    /// Statistics and `mallocSummary` walk every thread's cache record (under
    /// the cache lock) while the owners allocate, refill (under `.interleave`
    /// each refill re-points the cache at the next node) and exit. Under
    /// ThreadSanitizer this is the check that no field an owner writes shares
    /// a Swift variable with a field the walker reads; here, that the counts
    /// add up once the threads are done.
    @Test func statisticsWhileThreadsAllocateAndExit() throws {
        let t = FixedTopology(nodeCount: 2, cpusPerNode: max(onlineCPUs, 1))
        let heap = try Heap(configuration: .init(numaPolicy: .interleave, scavenging: .disabled), topology: t)
        let running = UnsafeMutablePointer<Atomic<Int>>.allocate(capacity: 1)
        running.initialize(to: Atomic(0))
        defer { running.deallocate() }
        let threads = 4
        let rounds = getenv("NUMAHEAP_STRESS_OPS").flatMap { Int(String(cString: $0)) }.map { max($0 / 100, 5) } ?? 40
        struct Job { let heap: Heap; let running: UnsafeMutablePointer<Atomic<Int>>; let rounds: Int }
        var handles: [pthread_t] = []
        for _ in 0..<threads {
            running.pointee.add(1, ordering: .relaxed)
            let box = UnsafeMutablePointer<Job>.allocate(capacity: 1)
            box.initialize(to: Job(heap: heap, running: running, rounds: rounds))
            var handle = pthread_t()
            #expect(pthread_create(&handle, nil, { arg in
                let job = arg!.assumingMemoryBound(to: Job.self)
                for r in 0..<job.pointee.rounds {
                    var blocks: [UnsafeMutableRawPointer] = []
                    blocks.reserveCapacity(600)
                    for i in 0..<600 {
                        let p = try! job.pointee.heap.allocate(byteCount: 16 + (i * 40 + r) % 3000)
                        p.storeBytes(of: UInt8(truncatingIfNeeded: i), as: UInt8.self)
                        blocks.append(p)
                    }
                    for p in blocks { job.pointee.heap.deallocate(p) }
                    if r % 8 == 7 { job.pointee.heap.flushThreadCache() }
                }
                job.pointee.running.pointee.subtract(1, ordering: .releasing)
                job.deinitialize(count: 1)
                job.deallocate()
                return nil
            }, box) == 0)
            handles.append(handle)
        }
        var walks = 0
        while running.pointee.load(ordering: .acquiring) > 0 || walks < 3 {
            let stats = heap.statistics
            #expect(stats.sizeClasses.count > 1)
            _ = heap.core.mallocSummary
            walks += 1
        }
        for h in handles { pthread_join(h, nil) }
        let stats = heap.statistics
        #expect(stats.liveObjects == 0, "live objects after every free: \(stats.liveObjects)")
        #expect(stats.mallocs == threads * rounds * 600, "mallocs \(stats.mallocs)")
        #expect(stats.mallocs == stats.frees)
    }

    @Test func liveBlocksNeverOverlap() throws {
        let heap = try Heap()
        var blocks: [(UInt, Int)] = []
        var rng = SystemRandomNumberGenerator()
        for i in 0..<20_000 {
            let size = i % 50 == 0 ? Int.random(in: 32769...200_000, using: &rng) : Int.random(in: 1...4096, using: &rng)
            let p = try heap.allocate(byteCount: size)
            blocks.append((UInt(bitPattern: p), heap.usableSize(of: p)))
            if i % 3 == 0 {
                let j = Int.random(in: 0..<blocks.count, using: &rng)
                heap.deallocate(UnsafeMutableRawPointer(bitPattern: blocks[j].0)!)
                blocks.remove(at: j)
            }
        }
        blocks.sort { $0.0 < $1.0 }
        for (a, b) in zip(blocks, blocks.dropFirst()) { #expect(a.0 + UInt(a.1) <= b.0, "overlap at \(a.0)") }
        #expect(heap.statistics.liveObjects == blocks.count)
        for (p, _) in blocks { heap.deallocate(UnsafeMutableRawPointer(bitPattern: p)!) }
    }

    @Test func exitingThreadsReturnTheirSpans() throws {
        let heap = try Heap()
        let box = UnsafeMutablePointer<Heap>.allocate(capacity: 1)
        box.initialize(to: heap)
        defer { box.deinitialize(count: 1); box.deallocate() }
        for _ in 0..<4 {
            var t = pthread_t()
            pthread_create(&t, nil, { arg in
                let heap = arg!.assumingMemoryBound(to: Heap.self).pointee
                var ps: [UnsafeMutableRawPointer] = []
                for _ in 0..<1000 { ps.append(try! heap.allocate(byteCount: 64)) }
                for p in ps { heap.deallocate(p) }
                return nil
            }, box)
            pthread_join(t, nil)
        }
        let stats = heap.statistics
        #expect(stats.liveObjects == 0)
        #expect(stats.sizeClasses.first { $0.size == 64 }?.mallocs == 4000)
        // Every span of the exited threads went back to its central list; at most
        // the list's retained empty spans (64 B objects: one-page spans) are still
        // in use, and releasing free memory returns those too.
        let retained = CentralList.retainedEmptyLimit(pagesPerSpan: 1) * 8192
        #expect(stats.inUseBytes <= retained, "in use after all threads exited: \(stats.inUseBytes)")
        heap.releaseFreeMemory()
        #expect(heap.statistics.inUseBytes == 0)
    }
}

extension Array {
    /// Removes and returns element `i` in O(1) (order is not kept).
    mutating func swapAt(_ i: Int) -> Element {
        swapAt(i, count - 1)
        return removeLast()
    }
}
