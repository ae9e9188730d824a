// Idle threads do not keep the free memory they hold for reuse (kept large
// spans, held small spans, their page cache) resident indefinitely: the
// background scavenger takes it back about a second after they stop using it,
// and a thread whose held memory was taken back goes on allocating correctly.
import Glibc
@_spi(NUMAHeapInternals) import NUMAHeap
import Platform
import Synchronization
import Testing

/// Runs `body` on a new thread; join it with `pthread_join`.
private func startThread(_ body: @escaping () -> Void) -> pthread_t {
    final class Box { let body: () -> Void; init(_ b: @escaping () -> Void) { body = b } }
    var t = pthread_t()
    let box = Unmanaged.passRetained(Box(body)).toOpaque()
    let rc = pthread_create(&t, nil, { raw in
        Unmanaged<Box>.fromOpaque(raw!).takeRetainedValue().body()
        return nil
    }, box)
    precondition(rc == 0)
    return t
}

private func seconds() -> Double {
    var t = timespec()
    clock_gettime(CLOCK_MONOTONIC, &t)
    return Double(t.tv_sec) + Double(t.tv_nsec) / 1e9
}

/// A one-shot flag another thread waits for (no sleep as synchronisation).
private final class Flag: @unchecked Sendable {
    var mutex = pthread_mutex_t()
    var cond = pthread_cond_t()
    var set = false
    init() { pthread_mutex_init(&mutex, nil); pthread_cond_init(&cond, nil) }
    func raise() { pthread_mutex_lock(&mutex); set = true; pthread_cond_broadcast(&cond); pthread_mutex_unlock(&mutex) }
    func wait() { pthread_mutex_lock(&mutex); while !set { pthread_cond_wait(&cond, &mutex) }; pthread_mutex_unlock(&mutex) }
}

@Suite struct IdleThreadTrimTests {
    @Test func theScavengerTakesBackWhatAnIdleThreadHolds() throws {
        let heap = try Heap(configuration: .init(numaPolicy: .disabled, scavenging: .background(retainExtraPercent: 10)))
        let holding = Flag(), goOn = Flag()
        let ok = UnsafeMutablePointer<Atomic<Int>>.allocate(capacity: 1)
        ok.initialize(to: Atomic(0))
        defer { ok.deallocate() }
        let thread = startThread {
            // Eight 200 000-byte blocks freed: kept whole by this thread
            // (≤ 8 spans, ≤ 2 MiB), their pages still in use.
            var blocks: [UnsafeMutableRawPointer] = []
            for i in 0..<8 { let p = try! heap.allocate(byteCount: 200_000); memset(p, Int32(i + 1), 200_000); blocks.append(p) }
            for p in blocks { heap.deallocate(p) }
            holding.raise()
            goOn.wait()  // alive and idle meanwhile
            // Held memory taken back or not, this thread allocates as before.
            blocks.removeAll()
            for i in 0..<8 { let p = try! heap.allocate(byteCount: 200_000); memset(p, Int32(i + 9), 200_000); blocks.append(p) }
            var good = true
            for (i, p) in blocks.enumerated() {
                let bytes = p.assumingMemoryBound(to: UInt8.self)
                if bytes[0] != UInt8(i + 9) || bytes[199_999] != UInt8(i + 9) { good = false }
                heap.deallocate(p)
            }
            heap.flushThreadCache()
            if good { ok.pointee.store(1, ordering: .releasing) }
        }
        holding.wait()
        let held = heap.statistics.inUseBytes
        #expect(held >= 8 * 200_000, "the thread's kept spans count as in use: \(held) bytes")
        // The worker trims about once a second; an idle thread's memory goes
        // back on the second pass after its last use.
        let deadline = seconds() + 10
        while heap.statistics.inUseBytes > held - 8 * 200_000 && seconds() < deadline { usleep(10_000) }
        let after = heap.statistics.inUseBytes
        #expect(after <= held - 8 * 200_000, "in use \(held) → \(after) bytes: the idle thread's kept spans stayed")
        goOn.raise()
        pthread_join(thread, nil)
        #expect(ok.pointee.load(ordering: .acquiring) == 1, "allocation after the trim went wrong")
        #expect(heap.statistics.liveObjects == 0)
    }

    /// Trims of every thread's held memory, busy or not, racing four threads
    /// that make and free small spans and large blocks and check their bytes —
    /// with the owners' asymmetric claims (where the kernel has membarrier)
    /// and with compare-exchange claims. The trims must take something back.
    @Test(arguments: [true, false])
    func trimsRacingBusyThreadsLoseNothing(asymmetricClaims: Bool) throws {
        let heap = try Heap(configuration: .init(numaPolicy: .disabled, scavenging: .disabled))
        if !asymmetricClaims { heap.core.useCompareExchangeClaims() }
        #expect(heap.core.heldMemoryClaimsAreAsymmetric == (asymmetricClaims && ProcessBarrier.register()))
        let trimmed = UnsafeMutablePointer<Atomic<Int>>.allocate(capacity: 1)
        trimmed.initialize(to: Atomic(0))
        defer { trimmed.deallocate() }
        let stop = UnsafeMutablePointer<Atomic<Int>>.allocate(capacity: 2)
        stop.initialize(to: Atomic(0))
        (stop + 1).initialize(to: Atomic(0))
        defer { stop.deallocate() }
        let operations = getenv("NUMAHEAP_STRESS_OPS").flatMap { Int(String(cString: $0)) } ?? 20_000
        var threads: [pthread_t] = []
        for id in 0..<4 {
            threads.append(startThread {
                var live: [(UnsafeMutableRawPointer, Int, UInt8)] = []
                var x = UInt64(id + 1) &* 0x9E37_79B9_7F4A_7C15
                for op in 0..<operations {
                    x ^= x << 13; x ^= x >> 7; x ^= x << 17
                    let size = x % 4 == 0 ? 40_000 + Int(x >> 20) % 400_000 : 2_000 + Int(x >> 20) % 30_000
                    let tag = UInt8(truncatingIfNeeded: op | 1)
                    let p = try! heap.allocate(byteCount: size)
                    memset(p, Int32(tag), size)
                    live.append((p, size, tag))
                    if live.count > 24 || x % 3 == 0 {
                        let (q, n, t) = live.removeFirst()
                        let bytes = q.assumingMemoryBound(to: UInt8.self)
                        if bytes[0] != t || bytes[n / 2] != t || bytes[n - 1] != t { stop[1].add(1, ordering: .relaxed) }
                        heap.deallocate(q)
                    }
                }
                for (q, _, _) in live { heap.deallocate(q) }
                heap.flushThreadCache()
            })
        }
        let trimmer = startThread {
            var passes = 0
            while stop[0].load(ordering: .acquiring) == 0 {
                trimmed.pointee.add(heap.core.trimThreads(idleOnly: false), ordering: .relaxed)
                passes += 1
            }
            precondition(passes > 0)
        }
        for t in threads { pthread_join(t, nil) }
        stop[0].store(1, ordering: .releasing)
        pthread_join(trimmer, nil)
        #expect(stop[1].load(ordering: .relaxed) == 0, "blocks whose bytes changed")
        #expect(trimmed.pointee.load(ordering: .relaxed) > 0, "no trim pass took anything back from the busy threads")
        let s = heap.statistics
        #expect(s.liveObjects == 0 && s.mallocs == s.frees)
        heap.releaseFreeMemory()
        #expect(heap.statistics.inUseBytes == 0, "in use after every free and a full release: \(heap.statistics.inUseBytes)")
    }
}
