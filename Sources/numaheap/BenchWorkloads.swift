import Glibc
import Synchronization

// The workloads of `numaheap bench`. Each is a generic function over
// `BenchAllocator`, specialised per allocator (see `LoadedAllocator.with`).
// Their loops allocate nothing but the blocks measured: every buffer they use
// is made before the clock starts. Every block gets a pattern in its first and
// last 8 bytes, derived from the block's sequence number, which is checked
// before the block is freed — an allocator that hands out the same memory
// twice, too little memory, or memory it then scribbles on, fails the run.

/// Seconds on the monotonic clock.
@inline(__always)
func benchNow() -> Double {
    var ts = timespec()
    clock_gettime(CLOCK_MONOTONIC, &ts)
    return Double(ts.tv_sec) + Double(ts.tv_nsec) * 1e-9
}

/// Seconds of CPU time this thread has used (user and system). The workloads
/// report CPU time, not wall time, so that time a thread spends descheduled
/// — this is a shared 2-core machine — does not count against an allocator;
/// time in the kernel (page faults, mmap, madvise) does.
@inline(__always)
func benchThreadCPUTime() -> Double {
    var ts = timespec()
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts)
    return Double(ts.tv_sec) + Double(ts.tv_nsec) * 1e-9
}

/// The pattern of the block with sequence number `tag` (splitmix64).
@inline(__always)
func benchPattern(_ tag: UInt64) -> UInt64 {
    var z = tag &+ 0x9E37_79B9_7F4A_7C15
    z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
    z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
    return z ^ (z >> 31)
}

/// Writes the pattern into the first and last 8 bytes of a block of `size` ≥ 8 bytes.
@inline(__always)
func stamp(_ p: UnsafeMutableRawPointer, size: Int, tag: UInt64) {
    let v = benchPattern(tag)
    p.storeBytes(of: v, as: UInt64.self)
    p.storeBytes(of: ~v, toByteOffset: size &- 8, as: UInt64.self)
}

/// Checks the pattern `stamp` wrote; stops the run on a mismatch.
@inline(__always)
func verify(_ p: UnsafeMutableRawPointer, size: Int, tag: UInt64, _ allocator: StaticString) {
    let v = benchPattern(tag)
    if _slowPath(p.load(as: UInt64.self) != v || p.loadUnaligned(fromByteOffset: size &- 8, as: UInt64.self) != ~v) {
        corrupted(p, size: size, tag: tag, allocator)
    }
}

@inline(never)
func corrupted(_ p: UnsafeMutableRawPointer, size: Int, tag: UInt64, _ allocator: StaticString) -> Never {
    benchFailure("\(allocator): the block of \(size) B at \(p) (number \(tag)) was overwritten while live")
}

/// One timed run: how many allocate+free pairs, in how many seconds.
struct BenchSample {
    var pairs: Int
    var seconds: Double
    /// Nanoseconds per pair per thread.
    func nanosecondsPerPair(threads: Int = 1) -> Double { seconds * 1e9 * Double(threads) / Double(max(pairs, 1)) }
}

// MARK: Pairs, one thread

/// Allocate+free pairs of one size for `seconds`: each iteration allocates a
/// block and frees the one allocated the iteration before (so the check reads
/// memory across an allocator call and cannot be folded away), at most two
/// blocks live.
@inline(never)
func runPairs<A: BenchAllocator>(_ a: A, size: Int, seconds: Double, label: StaticString) -> BenchSample {
    var previous = a.allocate(size)
    stamp(previous, size: size, tag: 0)
    var tag: UInt64 = 1
    let cpuStart = benchThreadCPUTime()
    let deadline = benchNow() + seconds
    repeat {
        for _ in 0..<512 {
            let p = a.allocate(size)
            stamp(p, size: size, tag: tag)
            verify(previous, size: size, tag: tag &- 1, label)
            a.deallocate(previous)
            previous = p
            tag &+= 1
        }
    } while benchNow() < deadline
    let cpu = benchThreadCPUTime() - cpuStart
    verify(previous, size: size, tag: tag &- 1, label)
    a.deallocate(previous)
    return BenchSample(pairs: Int(tag) - 1, seconds: cpu)
}

// MARK: Cross-thread frees

/// A single-producer single-consumer ring of block addresses. Each side keeps
/// a private copy of the other side's index and reloads it only when the ring
/// looks full (producer) or empty (consumer), so that an operation moves no
/// cache line but, every eight blocks, a line of slots: what the workload
/// measures is the allocators' cross-thread cost, not the ring's.
final class BenchRing: @unchecked Sendable {
    /// A power of two; up to 4 MiB of blocks in flight (64 to 4096 blocks),
    /// so that a thread descheduled on a busy machine stalls its peer rarely.
    let capacity: Int
    let slots: UnsafeMutablePointer<UInt>
    /// Written by the producer (next slot to fill).
    let tail = Atomic<Int>(0)
    private let _pad0 = (0, 0, 0, 0, 0, 0, 0, 0)
    /// Written by the consumer (next slot to read).
    let head = Atomic<Int>(0)
    private let _pad1 = (0, 0, 0, 0, 0, 0, 0, 0)
    /// The producer's total, once it has stopped; -1 before.
    let total = Atomic<Int>(-1)
    /// The producer's copy of `head` (its own cache line; a pointer, so no
    /// dynamic exclusivity check on the hot path).
    let producerHead: UnsafeMutablePointer<Int>
    /// The consumer's copy of `tail`.
    let consumerTail: UnsafeMutablePointer<Int>

    init(blockSize: Int) {
        var c = 64
        while c < 4096 && c * 2 * blockSize <= 4 << 20 { c *= 2 }
        capacity = c
        slots = .allocate(capacity: capacity)
        slots.initialize(repeating: 0, count: capacity)
        producerHead = UnsafeMutableRawPointer.allocate(byteCount: 64, alignment: 64).bindMemory(to: Int.self, capacity: 1)
        producerHead.initialize(to: 0)
        consumerTail = UnsafeMutableRawPointer.allocate(byteCount: 64, alignment: 64).bindMemory(to: Int.self, capacity: 1)
        consumerTail.initialize(to: 0)
    }
    deinit {
        slots.deallocate()
        producerHead.deallocate()
        consumerTail.deallocate()
    }

    @inline(__always)
    func push(_ p: UnsafeMutableRawPointer) -> Bool {
        let t = tail.load(ordering: .relaxed)
        if t &- producerHead.pointee == capacity {
            producerHead.pointee = head.load(ordering: .acquiring)
            if t &- producerHead.pointee == capacity { return false }
        }
        slots[t & (capacity &- 1)] = UInt(bitPattern: p)
        tail.store(t &+ 1, ordering: .releasing)
        return true
    }

    @inline(__always)
    func pop() -> UnsafeMutableRawPointer? {
        let h = head.load(ordering: .relaxed)
        if h == consumerTail.pointee {
            consumerTail.pointee = tail.load(ordering: .acquiring)
            if h == consumerTail.pointee { return nil }
        }
        let p = UnsafeMutableRawPointer(bitPattern: slots[h & (capacity &- 1)])
        head.store(h &+ 1, ordering: .releasing)
        return p
    }
}

/// Start and stop flags of one cross-thread run.
final class BenchControl: @unchecked Sendable {
    let go = Atomic<Bool>(false)
    let stop = Atomic<Bool>(false)
}

/// The tag of the `n`th block sent by thread `thread`.
@inline(__always)
func crossTag(_ thread: Int, _ n: Int) -> UInt64 { UInt64(thread) << 48 | UInt64(n) }

/// One thread of the cross-thread workload: allocates blocks and sends them
/// to the next thread through `out`; frees the blocks the previous thread
/// sends through `incoming`. Every free is of a block another thread allocated.
@inline(never)
func crossThreadWorker<A: BenchAllocator>(_ a: A, size: Int, thread: Int, peer: Int,
                                         out: BenchRing, incoming: BenchRing, control: BenchControl,
                                         label: StaticString) -> (sent: Int, cpuSeconds: Double) {
    var sent = 0
    var received = 0
    while !control.go.load(ordering: .acquiring) { sched_yield() }
    let cpuStart = benchThreadCPUTime()
    while true {
        for _ in 0..<256 {
            let p = a.allocate(size)
            stamp(p, size: size, tag: crossTag(thread, sent))
            while !out.push(p) {
                // The ring is full: free what the peer sent until it drains;
                // with nothing to free, the peer is not running: let it.
                if let q = incoming.pop() {
                    verify(q, size: size, tag: crossTag(peer, received), label)
                    a.deallocate(q)
                    received &+= 1
                } else {
                    sched_yield()
                }
            }
            sent &+= 1
            if let q = incoming.pop() {
                verify(q, size: size, tag: crossTag(peer, received), label)
                a.deallocate(q)
                received &+= 1
            }
        }
        if control.stop.load(ordering: .relaxed) { break }
    }
    out.total.store(sent, ordering: .releasing)
    while true {
        if let q = incoming.pop() {
            verify(q, size: size, tag: crossTag(peer, received), label)
            a.deallocate(q)
            received &+= 1
        } else {
            let total = incoming.total.load(ordering: .acquiring)
            if total >= 0 && received == total { break }
            sched_yield()
        }
    }
    return (sent, benchThreadCPUTime() - cpuStart)
}

/// A pthread running a closure; joined for its result.
final class BenchThread: @unchecked Sendable {
    let body: () -> (sent: Int, cpuSeconds: Double)
    var result = (sent: 0, cpuSeconds: 0.0)
    var thread = pthread_t()

    init(_ body: @escaping () -> (sent: Int, cpuSeconds: Double)) {
        self.body = body
        let context = Unmanaged.passRetained(self).toOpaque()
        let rc = pthread_create(&thread, nil, { @Sendable context in
            let me = Unmanaged<BenchThread>.fromOpaque(context!).takeRetainedValue()
            me.result = me.body()
            return nil
        }, context)
        if rc != 0 { benchFailure("pthread_create failed: \(rc)") }
    }

    func join() -> (sent: Int, cpuSeconds: Double) {
        pthread_join(thread, nil)
        return result
    }
}

/// `threads` threads in a ring, each sending blocks of `size` bytes to the
/// next, which frees them; for `seconds`. Returns pairs summed over threads,
/// and the threads' CPU time summed, divided by the thread count (so that
/// `nanosecondsPerPair(threads:)` gives CPU ns per pair per thread).
func runCrossThread<A: BenchAllocator>(_ a: A, size: Int, threads: Int, seconds: Double, label: StaticString) -> BenchSample {
    let rings = (0..<threads).map { _ in BenchRing(blockSize: size) }
    let control = BenchControl()
    let workers = (0..<threads).map { t in
        let out = rings[t], incoming = rings[(t + threads - 1) % threads]
        return BenchThread {
            crossThreadWorker(a, size: size, thread: t, peer: (t + threads - 1) % threads,
                              out: out, incoming: incoming, control: control, label: label)
        }
    }
    control.go.store(true, ordering: .releasing)
    var pause = timespec(tv_sec: Int(seconds), tv_nsec: Int((seconds - seconds.rounded(.down)) * 1e9))
    var remaining = timespec()
    while nanosleep(&pause, &remaining) != 0 { pause = remaining }
    control.stop.store(true, ordering: .relaxed)
    let results = workers.map { $0.join() }
    let pairs = results.reduce(0) { $0 + $1.sent }
    let cpu = results.reduce(0) { $0 + $1.cpuSeconds }
    return BenchSample(pairs: pairs, seconds: cpu / Double(threads))
}

// MARK: Batch

/// The blocks of the batch workload: a size mix and a free order, the same
/// for every allocator (fixed seed).
struct BatchPlan {
    let sizes: [Int]
    let order: [Int]

    init(count: Int, seed: UInt64 = 0x5EED) {
        var state = seed
        func next() -> UInt64 {
            state &+= 0x9E37_79B9_7F4A_7C15
            return benchPattern(state)
        }
        var sizes = [Int]()
        sizes.reserveCapacity(count)
        for _ in 0..<count {
            let r = next()
            let bucket = r % 100
            let x = Int((r >> 8) % (1 << 20))
            switch bucket {
            case 0..<60: sizes.append(16 + x % 113)          // 16–128: most objects
            case 60..<85: sizes.append(129 + x % 896)        // 129–1024
            case 85..<96: sizes.append(1025 + x % 7168)      // 1 KiB–8 KiB
            case 96..<99: sizes.append(8193 + x % 24576)     // 8–32 KiB (largest classes)
            default: sizes.append(32769 + x % 98304)         // 32–128 KiB: large blocks
            }
        }
        var order = Array(0..<count)
        for i in stride(from: count - 1, to: 0, by: -1) {  // Fisher–Yates
            order.swapAt(i, Int(next() % UInt64(i + 1)))
        }
        self.sizes = sizes
        self.order = order
    }

    var meanSize: Double { Double(sizes.reduce(0, +)) / Double(sizes.count) }
}

/// Allocates every block of the plan (all live at once), then frees them in
/// the plan's random order; repeated for `seconds` (at least once).
@inline(never)
func runBatch<A: BenchAllocator>(_ a: A, plan: BatchPlan, seconds: Double, label: StaticString) -> BenchSample {
    let n = plan.sizes.count
    let blocks = UnsafeMutablePointer<UnsafeMutableRawPointer?>.allocate(capacity: n)
    defer { blocks.deallocate() }
    return plan.sizes.withUnsafeBufferPointer { sizes in
        plan.order.withUnsafeBufferPointer { order in
            var batches: UInt64 = 0
            let cpuStart = benchThreadCPUTime()
            let deadline = benchNow() + seconds
            repeat {
                let base = batches << 32
                for i in 0..<n {
                    let p = a.allocate(sizes[i])
                    stamp(p, size: sizes[i], tag: base | UInt64(i))
                    blocks[i] = p
                }
                for j in 0..<n {
                    let i = order[j]
                    let p = blocks[i].unsafelyUnwrapped
                    verify(p, size: sizes[i], tag: base | UInt64(i), label)
                    a.deallocate(p)
                }
                batches &+= 1
            } while benchNow() < deadline
            return BenchSample(pairs: Int(batches) * n, seconds: benchThreadCPUTime() - cpuStart)
        }
    }
}
