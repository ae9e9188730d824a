import Glibc
import GCBits
import Platform
import Testing

@Suite struct ArenaAllocationTests {
    /// Whether `bytes` bytes at `p` are all zero.
    func isZero(_ p: UnsafeMutableRawPointer, _ bytes: Int) -> Bool {
        for i in 0..<bytes where p.load(fromByteOffset: i, as: UInt8.self) != 0 { return false }
        return true
    }

    @Test func everyAllocationIsAlignedZeroedAndSizedInWords() throws {
        let arenas = try GCBitsArenas()
        defer { arenas.destroy() }
        var previousEnd: UInt = 0
        var rng = SplitMix64(seed: 1)
        for i in 0..<3000 {
            let nelems = i < 130 ? i : Int.random(in: 0...5000, using: &rng)
            let bits = try arenas.newMarkBits(nelems)
            let address = UInt(bitPattern: bits.base)
            #expect(address & 7 == 0, "allocation \(i) at \(address)")
            let bytes = GCBits.byteCount(forElements: nelems)
            #expect(isZero(bits.base, bytes))
            // Within one arena, allocations are consecutive.
            if i > 0, address != previousEnd {
                #expect(bytes > 0, "a zero-byte request never needs a new arena")
            }
            bits.base.initializeMemory(as: UInt8.self, repeating: 0xA5, count: bytes)
            previousEnd = address + UInt(bytes)
        }
        let s = arenas.statistics
        #expect(s.freeArenas == 0 && s.currentArenas == 0 && s.previousArenas == 0)
        #expect(s.nextArenas >= 2)
        #expect(s.nextArenas + s.uncarvedArenas == 16 * s.batches)
    }

    @Test func newAllocBitsComesFromTheSameNextArena() throws {
        let arenas = try GCBitsArenas()
        defer { arenas.destroy() }
        let mark = try arenas.newMarkBits(100)
        let alloc = try arenas.newAllocBits(100)
        #expect(alloc.base == mark.base + 16)
        #expect(arenas.statistics.nextArenas == 1)
    }

    @Test func aFullArenaIsReplacedByAFreshOne() throws {
        let arenas = try GCBitsArenas()
        defer { arenas.destroy() }
        // 8 × 8,000 bytes fill 64,000 of the 65,520 bytes; the 9th does not fit.
        let first = try arenas.newMarkBits(64_000)
        var last = first
        for k in 1..<8 {
            last = try arenas.newMarkBits(64_000)
            #expect(last.base == first.base + 8_000 * k)
        }
        #expect(arenas.statistics.nextArenas == 1)
        let ninth = try arenas.newMarkBits(64_000)
        #expect(arenas.statistics.nextArenas == 2)
        let firstArena = UInt(bitPattern: first.base) - 16
        let ninthAddress = UInt(bitPattern: ninth.base)
        #expect(ninthAddress < firstArena || ninthAddress >= firstArena + 65_536)
        // The new arena is now the head: the next allocation follows the ninth,
        // even though it would have fit in the first arena's remainder.
        let small = try arenas.newMarkBits(64)
        #expect(small.base == ninth.base + 8_000)
    }

    @Test func theLargestBitmapFillsAWholeArena() throws {
        let arenas = try GCBitsArenas()
        defer { arenas.destroy() }
        let whole = try arenas.newMarkBits(GCBitsArenas.maxElements)
        #expect(GCBits.byteCount(forElements: GCBitsArenas.maxElements) == GCBitsArenas.arenaCapacity)
        whole.base.initializeMemory(as: UInt8.self, repeating: 0xFF, count: GCBitsArenas.arenaCapacity)
        #expect(whole.popcount(GCBitsArenas.maxElements) == GCBitsArenas.maxElements)
        let one = try arenas.newMarkBits(1)
        #expect(one.base != whole.base + GCBitsArenas.arenaCapacity)
        #expect(arenas.statistics.nextArenas == 2)
    }

    @Test func manyThreadsGetDisjointZeroedRanges() throws {
        let arenas = try GCBitsArenas()
        defer { arenas.destroy() }
        let threads = 8
        let perThread = 1500
        // records[t * perThread + i] = (address, bytes)
        let records = UnsafeMutableBufferPointer<(UInt, Int)>.allocate(capacity: threads * perThread)
        records.initialize(repeating: (0, 0))
        defer { records.deallocate() }
        let recordsAddress = UInt(bitPattern: records.baseAddress)
        let failures = Counter()
        runThreads(threads) { t in
            let r = UnsafeMutablePointer<(UInt, Int)>(bitPattern: recordsAddress)!
            var rng = SplitMix64(seed: UInt64(t) + 100)
            for i in 0..<perThread {
                let nelems = Int.random(in: 1...3000, using: &rng)
                guard let bits = try? arenas.newMarkBits(nelems) else {
                    failures.value.add(1, ordering: .relaxed); continue
                }
                let bytes = GCBits.byteCount(forElements: nelems)
                // Handed out zeroed, then stamped with the thread's byte.
                for b in 0..<bytes where bits.bytep(b).pointee != 0 {
                    failures.value.add(1, ordering: .relaxed); break
                }
                bits.base.initializeMemory(as: UInt8.self, repeating: UInt8(t + 1), count: bytes)
                r[t * perThread + i] = (UInt(bitPattern: bits.base), bytes)
            }
        }
        #expect(failures.value.load(ordering: .relaxed) == 0)
        // No stamp was overwritten by another thread.
        var intact = true
        for t in 0..<threads {
            for i in 0..<perThread {
                let (address, bytes) = records[t * perThread + i]
                let p = UnsafeMutableRawPointer(bitPattern: address)!
                for b in 0..<bytes where p.load(fromByteOffset: b, as: UInt8.self) != UInt8(t + 1) { intact = false }
                #expect(address & 7 == 0)
            }
        }
        #expect(intact)
        // No two ranges overlap.
        let sorted = records.sorted { $0.0 < $1.0 }
        var overlaps = 0
        for k in 1..<sorted.count where sorted[k - 1].0 + UInt(sorted[k - 1].1) > sorted[k].0 { overlaps += 1 }
        #expect(overlaps == 0)
        let total = records.reduce(0) { $0 + $1.1 }
        let s = arenas.statistics
        #expect(s.nextArenas >= (total + GCBitsArenas.arenaCapacity - 1) / GCBitsArenas.arenaCapacity)
        #expect(s.nextArenas + s.freeArenas + s.uncarvedArenas == 16 * s.batches)
    }

    /// Every allocation takes a whole arena, so every call installs one: the
    /// threads race in the slow path, in batch mapping (the lock is dropped
    /// around mmap) and in Go's "someone else installed an arena" retry.
    @Test func racingArenaInstallsLoseNoArenaAndShareNone() throws {
        let arenas = try GCBitsArenas()
        defer { arenas.destroy() }
        let threads = 8
        let perThread = 40
        let bases = UnsafeMutableBufferPointer<UInt>.allocate(capacity: threads * perThread)
        bases.initialize(repeating: 0)
        defer { bases.deallocate() }
        let basesAddress = UInt(bitPattern: bases.baseAddress)
        let failures = Counter()
        runThreads(threads) { t in
            let out = UnsafeMutablePointer<UInt>(bitPattern: basesAddress)!
            for i in 0..<perThread {
                // Nothing but allocation in the loop, so the threads meet in the slow path.
                guard let bits = try? arenas.newMarkBits(GCBitsArenas.maxElements) else {
                    failures.value.add(1, ordering: .relaxed); continue
                }
                out[t * perThread + i] = UInt(bitPattern: bits.base)
            }
        }
        // Each arena was handed out zeroed, to one thread only.
        for t in 0..<threads {
            for i in 0..<perThread {
                let bits = GCBits(UnsafeMutableRawPointer(bitPattern: bases[t * perThread + i])!)
                #expect(bits.popcount(GCBitsArenas.maxElements) == 0)
                bits.base.initializeMemory(as: UInt8.self, repeating: UInt8(t + 1), count: GCBitsArenas.arenaCapacity)
            }
        }
        #expect(failures.value.load(ordering: .relaxed) == 0)
        #expect(Set(bases).count == threads * perThread)
        for t in 0..<threads {
            for i in 0..<perThread {
                let p = UnsafeMutableRawPointer(bitPattern: bases[t * perThread + i])!
                #expect(p.load(as: UInt8.self) == UInt8(t + 1))
                #expect(p.load(fromByteOffset: GCBitsArenas.arenaCapacity - 1, as: UInt8.self) == UInt8(t + 1))
            }
        }
        let s = arenas.statistics
        #expect(s.nextArenas == threads * perThread)
        // Every arena mapped is on a list or still uncarved: none was lost in a race.
        #expect(s.nextArenas + s.freeArenas + s.uncarvedArenas == 16 * s.batches)
    }

    @Test func aControlBlockCanLiveInTheCallersMemory() throws {
        let block = UnsafeMutableRawPointer.allocate(
            byteCount: GCBitsArenas.controlBlockByteCount, alignment: GCBitsArenas.controlBlockAlignment)
        defer { block.deallocate() }
        let arenas = GCBitsArenas(controlBlock: block)
        let bits = try arenas.newMarkBits(640)
        bits.set(639)
        #expect(bits.popcount(640) == 1)
        #expect(arenas.statistics.batches == 1)
        #expect(arenas.statistics.mappedBytes >= 1 << 20)
        arenas.destroy()
    }

    @Test func anOversizedBitmapIsAFatalErrorWithTheValues() async {
        let result = await #expect(processExitsWith: .signal(SIGABRT), observing: [\.standardErrorContent]) {
            let arenas = try! GCBitsArenas()
            _ = try? arenas.newMarkBits(GCBitsArenas.maxElements + 1)
        }
        let text = String(decoding: result?.standardErrorContent ?? [], as: UTF8.self)
        #expect(text.contains(
            "GCBits: bitmap for 524161 elements needs 65528 bytes; an arena holds 65520 (at most 524160 elements)\n"))
    }

    @Test func aNegativeCountIsAFatalError() async {
        await #expect(processExitsWith: .signal(SIGABRT)) {
            let arenas = try! GCBitsArenas()
            _ = try? arenas.newMarkBits(-1)
        }
    }
}
