// NUMAHeap allocate+deallocate versus the system allocator (glibc), one pair
// per inner iteration, at the sizes `numaheap bench` measures.
//
// package-benchmark's MallocInterposer trait replaces `malloc` in this
// executable (to count allocations), so "glibc" here calls glibc's own entry
// points, `__libc_malloc`/`__libc_free`, resolved with dlsym: the system
// allocator without the interposer's header in front of it.

import Benchmark
import Glibc
import NUMAHeap

typealias MallocFunction = @convention(c) (Int) -> UnsafeMutableRawPointer?
typealias FreeFunction = @convention(c) (UnsafeMutableRawPointer?) -> Void

/// glibc's malloc and free, past any interposer.
let glibc: (malloc: MallocFunction, free: FreeFunction) = {
    let handle = dlopen("libc.so.6", RTLD_NOW | RTLD_NOLOAD)
    guard let m = dlsym(handle, "__libc_malloc"), let f = dlsym(handle, "__libc_free") else {
        fatalError("glibc's __libc_malloc/__libc_free not found")
    }
    return (unsafeBitCast(m, to: MallocFunction.self), unsafeBitCast(f, to: FreeFunction.self))
}()

let sizes = [16, 64, 256, 1024, 8192, 100_000]

let benchmarks: @Sendable () -> Void = {
    Benchmark.defaultConfiguration = .init(
        metrics: [.wallClock, .instructions, .throughput],
        timeUnits: .nanoseconds,
        warmupIterations: 3,
        scalingFactor: .kilo,
        maxDuration: .milliseconds(500),
        maxIterations: 1_000
    )

    for size in sizes {
        Benchmark("NUMAHeap allocate+deallocate \(size) B") { benchmark in
            let heap = Heap.shared
            for _ in benchmark.scaledIterations {
                let p = try! heap.allocate(byteCount: size, alignment: 16)
                p.storeBytes(of: UInt8(truncatingIfNeeded: size), as: UInt8.self)
                blackHole(p)
                heap.deallocate(p)
            }
        }
        Benchmark("glibc malloc+free \(size) B") { benchmark in
            let (malloc, free) = glibc
            for _ in benchmark.scaledIterations {
                let p = malloc(size)!
                p.storeBytes(of: UInt8(truncatingIfNeeded: size), as: UInt8.self)
                blackHole(p)
                free(p)
            }
        }
    }
}
