import Glibc
import NUMAHeap

// Local vs remote access to the memory an allocator returns: a buffer placed
// on memory node a is read by a thread pinned to CPU node b. Two figures:
// sequential read bandwidth (what streaming code gets) and dependent-load
// latency (a pointer chase over a random cyclic permutation of the buffer's
// cache lines, so that neither the prefetcher nor out-of-order execution can
// overlap the loads: each load's address is the previous load's value).

/// Bytes per chase step: one cache line, so every load misses to a new line.
let chaseStride = 64

/// Keeps the kernels' results observable, so the optimiser cannot drop the loads.
nonisolated(unsafe) var benchSink: UInt = 0

/// Writes a random single-cycle permutation of the buffer's lines into it:
/// line i's first word is the address of the line that follows it (Sattolo's
/// algorithm, which yields exactly one cycle, so a chase visits every line).
/// Writing every line also touches every page, placing it.
func buildChase(_ base: UnsafeMutableRawPointer, bytes: Int, seed: UInt64 = 0xC4A5E) {
    let lines = bytes / chaseStride
    let words = base.assumingMemoryBound(to: UInt.self)
    let step = chaseStride / MemoryLayout<UInt>.stride
    for i in 0..<lines { words[i * step] = UInt(i) }
    var state = seed
    var i = lines - 1
    while i > 0 {
        state &+= 0x9E37_79B9_7F4A_7C15
        let j = Int(benchPattern(state) % UInt64(i))
        let t = words[i * step]
        words[i * step] = words[j * step]
        words[j * step] = t
        i -= 1
    }
    let origin = UInt(bitPattern: base)
    for i in 0..<lines { words[i * step] = origin + words[i * step] * UInt(chaseStride) }
}

/// Sequential read of `bytes` from `base`, whole passes, for `seconds` (at
/// least one pass). Returns bytes read and the thread's CPU seconds.
@inline(never)
func runReadBandwidth(_ base: UnsafeRawPointer, bytes: Int, seconds: Double) -> (bytes: Int, seconds: Double) {
    let vectors = bytes / MemoryLayout<SIMD4<UInt64>>.stride & ~3
    var a0 = SIMD4<UInt64>(), a1 = SIMD4<UInt64>(), a2 = SIMD4<UInt64>(), a3 = SIMD4<UInt64>()
    var passes = 0
    let cpuStart = benchThreadCPUTime()
    let deadline = benchNow() + seconds
    repeat {
        // Four independent sums: the adds never wait on each other, so the
        // loop is limited by the loads alone.
        var offset = 0
        let end = vectors * 32
        while offset < end {
            a0 &+= base.loadUnaligned(fromByteOffset: offset, as: SIMD4<UInt64>.self)
            a1 &+= base.loadUnaligned(fromByteOffset: offset + 32, as: SIMD4<UInt64>.self)
            a2 &+= base.loadUnaligned(fromByteOffset: offset + 64, as: SIMD4<UInt64>.self)
            a3 &+= base.loadUnaligned(fromByteOffset: offset + 96, as: SIMD4<UInt64>.self)
            offset += 128
        }
        passes += 1
    } while benchNow() < deadline
    let cpu = benchThreadCPUTime() - cpuStart
    let s = a0 &+ a1 &+ a2 &+ a3
    benchSink = UInt(truncatingIfNeeded: s[0] &+ s[1] &+ s[2] &+ s[3])
    return (passes * vectors * MemoryLayout<SIMD4<UInt64>>.stride, cpu)
}

/// Follows the chase `buildChase` wrote for `seconds`. Returns loads and the
/// thread's CPU seconds.
@inline(never)
func runChase(_ base: UnsafeRawPointer, seconds: Double) -> (loads: Int, seconds: Double) {
    var p = base
    var loads = 0
    let cpuStart = benchThreadCPUTime()
    let deadline = benchNow() + seconds
    repeat {
        for _ in 0..<1024 { p = p.load(as: UnsafeRawPointer.self) }
        loads += 1024
    } while benchNow() < deadline
    let cpu = benchThreadCPUTime() - cpuStart
    benchSink = UInt(bitPattern: p)
    return (loads, cpu)
}

/// Which allocator a memory-access buffer came from.
enum AccessSource: String {
    /// A block from a NUMAHeap heap bound to the memory node.
    case numaheap = "NUMAHeap"
    /// glibc (`posix_memalign`, page-aligned like NUMAHeap's; a fresh `mmap`
    /// at this size), first written by a thread on the memory node: the
    /// kernel's first-touch policy places it there.
    case glibc
}

/// One buffer of the matrix: where it is meant to be, and where its pages are.
struct AccessBuffer {
    let source: AccessSource
    let memoryNode: Int
    let base: UnsafeMutableRawPointer
    let bytes: Int
    var placement = PlacementFigures()
}

/// One cell of the matrix: buffer on `memoryNode`, reader on `cpuNode`.
struct AccessResult {
    var source: AccessSource
    var memoryNode: Int
    var cpuNode: Int
    /// GB/s (10^9 bytes per second), one per round.
    var bandwidth: [Double] = []
    /// ns per dependent load, one per round.
    var latency: [Double] = []
}
