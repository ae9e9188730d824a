import GCBits
import Synchronization
import Testing

@Suite struct AtomicBitsTests {
    /// 8 threads set every bit of the same bitmap, each in its own order; each
    /// bit must be reported as newly set by exactly one of them.
    @Test func eightThreadsSetOverlappingBitsEachNewlySetOnce() {
        let threads = 8
        let nelems = 8192
        let scratch = Scratch(bytes: GCBits.byteCount(forElements: nelems))
        let bits = scratch.bits
        // winners[t * nelems + n] == 1 when thread t newly set bit n.
        let winners = UnsafeMutableBufferPointer<UInt8>.allocate(capacity: threads * nelems)
        defer { winners.deallocate() }
        let winnersAddress = UInt(bitPattern: winners.baseAddress)
        for round in 0..<5 {
            bits.clearAll(nelems)
            winners.initialize(repeating: 0)
            runThreads(threads) { t in
                let w = UnsafeMutablePointer<UInt8>(bitPattern: winnersAddress)!
                // Thread t walks from its own start with an odd stride (a permutation of 0..<nelems).
                let stride = 2 * t + 1
                var n = (t * 1031 + round * 17) % nelems
                for _ in 0..<nelems {
                    if bits.setAtomic(n) { w[t * nelems + n] = 1 }
                    n = (n + stride) % nelems
                }
            }
            var exactlyOnce = true
            for n in 0..<nelems {
                var count = 0
                for t in 0..<threads { count += Int(winners[t * nelems + n]) }
                if count != 1 { exactlyOnce = false; Issue.record("round \(round): bit \(n) newly set \(count) times") ; break }
            }
            #expect(exactlyOnce)
            #expect(bits.popcount(nelems) == nelems)
            #expect(winners.reduce(0) { $0 + Int($1) } == nelems)
        }
    }

    /// The heap's free path and sweep: threads set free bits atomically while a
    /// sweeper takes whole words out with an atomic exchange. Every bit set must
    /// be collected exactly once.
    @Test func sweepingByExchangeLosesAndDuplicatesNothing() {
        let setters = 4
        let nelems = 4096
        let words = nelems / 64
        let scratch = Scratch(bytes: GCBits.byteCount(forElements: nelems))
        let bits = scratch.bits
        let collected = UnsafeMutablePointer<UInt64>.allocate(capacity: words)
        collected.initialize(repeating: 0, count: words)
        defer { collected.deallocate() }
        let collectedAddress = UInt(bitPattern: collected)
        let duplicates = Counter()
        let finished = Counter()
        runThreads(setters + 1) { t in
            if t < setters {
                // Setter t frees the objects n with n % setters == t, in a scattered order.
                for i in 0..<(nelems / setters) {
                    let n = ((i * 97) % (nelems / setters)) * setters + t
                    #expect(bits.setAtomic(n))
                }
                finished.value.add(1, ordering: .acquiringAndReleasing)
            } else {
                let c = UnsafeMutablePointer<UInt64>(bitPattern: collectedAddress)!
                func sweep() {
                    for w in 0..<words {
                        let taken = bits.atomicExchangeWord(index: w, with: 0)
                        if c[w] & taken != 0 { duplicates.value.add(1, ordering: .relaxed) }
                        c[w] |= taken
                    }
                }
                while finished.value.load(ordering: .acquiring) < setters { sweep() }
                sweep()
            }
        }
        #expect(duplicates.value.load(ordering: .relaxed) == 0)
        for w in 0..<words { #expect(collected[w] == UInt64.max, "word \(w)") }
        #expect(bits.popcount(nelems) == 0)
    }
}
