import GCBits
import Platform
import Testing

@Suite struct EpochTests {
    func fill(_ bits: GCBits, _ nelems: Int) {
        bits.base.initializeMemory(as: UInt8.self, repeating: 0xFF, count: GCBits.byteCount(forElements: nelems))
    }

    /// The arena holding `bits` (its header is 16 bytes before the first allocation's bits).
    func arenaRange(ofFirst bits: GCBits) -> Range<UInt> {
        let start = UInt(bitPattern: bits.base) - 16
        return start..<(start + 65_536)
    }

    @Test func listsMoveExactlyAsGosEpochs() throws {
        let arenas = try GCBitsArenas()
        defer { arenas.destroy() }
        _ = try arenas.newMarkBits(8)
        var s = arenas.statistics
        #expect((s.nextArenas, s.currentArenas, s.previousArenas, s.freeArenas) == (1, 0, 0, 0))
        #expect((s.uncarvedArenas, s.batches, s.epoch) == (15, 1, 0))
        arenas.nextMarkBitArenaEpoch()      // next → current
        s = arenas.statistics
        #expect((s.nextArenas, s.currentArenas, s.previousArenas, s.freeArenas, s.epoch) == (0, 1, 0, 0, 1))
        _ = try arenas.newMarkBits(8)
        _ = try arenas.newMarkBits(GCBitsArenas.maxElements)   // a second next arena
        arenas.nextMarkBitArenaEpoch()      // current → previous, next → current
        s = arenas.statistics
        #expect((s.nextArenas, s.currentArenas, s.previousArenas, s.freeArenas) == (0, 2, 1, 0))
        arenas.nextMarkBitArenaEpoch()      // previous → free
        s = arenas.statistics
        #expect((s.nextArenas, s.currentArenas, s.previousArenas, s.freeArenas) == (0, 0, 2, 1))
        arenas.nextMarkBitArenaEpoch()
        s = arenas.statistics
        #expect((s.nextArenas, s.currentArenas, s.previousArenas, s.freeArenas) == (0, 0, 0, 3))
        // Recycled arenas are used before new ones are carved.
        _ = try arenas.newMarkBits(8)
        s = arenas.statistics
        #expect((s.nextArenas, s.freeArenas, s.uncarvedArenas) == (1, 2, 13))
    }

    @Test func bitsFromTwoEpochsAgoAreRecycledZeroedWhileCurrentAndPreviousSurvive() throws {
        let arenas = try GCBitsArenas()
        defer { arenas.destroy() }
        let n = 4096
        let a = try arenas.newMarkBits(n); fill(a, n)     // epoch 0's next
        arenas.nextMarkBitArenaEpoch()                     // a: current
        let b = try arenas.newMarkBits(n); fill(b, n)
        arenas.nextMarkBitArenaEpoch()                     // a: previous, b: current
        let c = try arenas.newMarkBits(n); fill(c, n)
        // Still alive while a is previous: nothing reuses a's arena.
        let meanwhile = try arenas.newMarkBits(n)
        #expect(!arenaRange(ofFirst: a).contains(UInt(bitPattern: meanwhile.base)))
        arenas.nextMarkBitArenaEpoch()                     // a: free, b: previous, c: current
        let d = try arenas.newMarkBits(n)
        #expect(d.base == a.base, "the first bitmap after the epoch reuses a's arena")
        #expect(d.popcount(n) == 0, "and it was cleared")
        #expect(a.popcount(n) == 0)
        // b (previous: alloc bits of unswept spans) and c (current: mark bits) are intact.
        #expect(b.popcount(n) == n)
        #expect(c.popcount(n) == n)
        // Filling several arenas' worth never touches b's or c's arenas.
        for _ in 0..<(3 * 65_520 / 512) {
            let x = try arenas.newMarkBits(4096)
            let address = UInt(bitPattern: x.base)
            #expect(!arenaRange(ofFirst: b).contains(address))
            #expect(!arenaRange(ofFirst: c).contains(address))
            fill(x, 4096)
        }
        #expect(b.popcount(n) == n && c.popcount(n) == n)
    }

    /// A collector's cycle: alloc bits per span, mark bits per cycle, marks
    /// become alloc bits at sweep, then the epoch moves on. After many cycles
    /// the arenas in use stay bounded (three generations).
    @Test func aCollectorsCyclesRecycleArenasInSteadyState() throws {
        let arenas = try GCBitsArenas()
        defer { arenas.destroy() }
        let spans = 200
        let nelems = 1024
        var allocBits = try (0..<spans).map { _ in try arenas.newAllocBits(nelems) }
        var markBits = try (0..<spans).map { _ in try arenas.newMarkBits(nelems) }
        var rng = SplitMix64(seed: 9)
        for cycle in 0..<20 {
            // Mark: some objects of every span.
            var marked = [Int](repeating: 0, count: spans)
            for s in 0..<spans {
                for o in 0..<nelems where rng.next() % 4 == 0 {
                    if markBits[s].setAtomic(o) { marked[s] += 1 }
                }
            }
            // Sweep: mark bits become alloc bits; fresh mark bits from next.
            for s in 0..<spans {
                #expect(markBits[s].popcount(nelems) == marked[s], "cycle \(cycle) span \(s)")
                allocBits[s] = markBits[s]
                markBits[s] = try arenas.newMarkBits(nelems)
                #expect(markBits[s].popcount(nelems) == 0)
            }
            arenas.nextMarkBitArenaEpoch()
            // Alloc bits survive the epoch that follows their sweep.
            for s in 0..<spans { #expect(allocBits[s].popcount(nelems) == marked[s]) }
        }
        let s = arenas.statistics
        // Each generation needs ceil(200 × 128 / 65,520) = 1 arena; at most 3 live plus the recycled.
        #expect(s.batches == 1)
        #expect(s.freeArenas + s.nextArenas + s.currentArenas + s.previousArenas <= 4)
    }
}
