import ArgumentParser
import PageAlloc
import Platform

/// `numaheap bench-pagealloc`: the cost of PageAlloc's allocate + free as the
/// grown space rises from 256 MiB to 1 TiB, fragmented so that about half the
/// pages are allocated in a random pattern. Build in release:
///
///     swift build -c release --scratch-path .build-release --product numaheap
///     .build-release/release/numaheap bench-pagealloc
///
/// PageAlloc never touches the memory it manages, so the space is synthetic
/// address space (from 0x100000000000); only its metadata is mapped.
struct PageAllocScalingCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "bench-pagealloc",
        abstract: "Page allocator cost (ns per allocate + free) as the grown space rises from 256 MiB to 1 TiB.")

    @Option(help: "Timed allocate + free pairs per cell (1/4 as many for 512 and 4096 pages).")
    var iterations = 400_000

    @Option(name: .customLong("max-gib"), help: "Largest grown space, in GiB (256 MiB × a power of 4 up to it are measured).")
    var maxGiB = 1024

    @Option(help: "Repetitions of each cell; the fastest is reported (the machine may be shared).")
    var repeats = 5

    @Option(help: "Seed of the fragmentation pattern.")
    var seed: UInt64 = 0x5EED

    static let sizes = [1, 8, 64, 512, 4096]
    /// Go's mheap.allocSpan uses the page cache for fewer than pageCachePages/4 = 16 pages.
    static let cacheLimit = 16

    func run() throws {
        let pageSize = 8192
        let base: UInt = 0x1000_0000_0000
        var spaces: [Int] = []
        var s = 256 << 20
        while s <= maxGiB << 30 { spaces.append(s); s <<= 2 }

        print("PageAlloc scaling: ns per allocate + free (pages at 8 KiB), space fragmented to ~50% allocated")
        print("iterations per cell: \(iterations) (\(iterations / 4) for 512 and 4096 pages), best of \(repeats); cache used for < \(Self.cacheLimit) pages (freed back into it when the run lies in its block), larger sizes take the direct path")
        var header = "space     frag  setup(s)"
        for n in Self.sizes { header += "  " + pad("\(n)p", 16) + "  " + pad("\(n)p+cache", 16) }
        print(header)

        var baseline: [Double] = []
        for space in spaces {
            var a = PageAllocator(pageSize: pageSize)
            let t0 = ContinuousClock.now
            let arena = 64 << 20
            var grown = 0
            while grown < space {
                a.grow(base: base + UInt(grown), bytes: min(arena, space - grown))
                grown += min(arena, space - grown)
            }
            var rng = SplitMix64(seed: seed)
            fragment(&a, &rng, seed: seed)
            let setup = seconds(ContinuousClock.now - t0)
            let allocated = 1 - Double(a.freePages) / Double(a.grownPages)

            var row = pad(label(space), 8) + "  " + pad(String(format1(allocated * 100)) + "%", 4) + "  " + pad(format1(setup), 8)
            var costs: [Double] = []
            for n in Self.sizes {
                let iters = n >= 512 ? iterations / 4 : iterations
                var direct = Double.infinity, cached = Double.infinity
                for _ in 0..<max(1, repeats) {
                    direct = min(direct, measureDirect(&a, pages: n, iterations: iters))
                    cached = min(cached, measureCached(&a, pages: n, iterations: iters))
                }
                costs.append(direct)
                costs.append(cached)
            }
            if baseline.isEmpty { baseline = costs }
            for (k, c) in costs.enumerated() {
                row += "  " + pad(format1(c) + " (" + format2(c / baseline[k]) + "x)", 16)
            }
            print(row)
        }
    }

    /// Fills the space with runs of 2^u pages (u uniform in 0...12), then frees
    /// each run with probability 1/2: about half the pages stay allocated, in
    /// holes and islands of every size from 1 to several thousand pages.
    func fragment(_ a: inout PageAllocator, _ rng: inout SplitMix64, seed: UInt64) {
        var runs: [(UInt, Int)] = []
        runs.reserveCapacity(a.grownPages / 500)
        var n = 1 << Int(rng.next() % 13)
        while true {
            if let r = a.allocate(pages: n) {
                runs.append((r.base, n))
                n = 1 << Int(rng.next() % 13)
            } else if n > 1 {
                n >>= 1
            } else {
                break
            }
        }
        // A second generator decides the frees, so that every space size gets
        // the same pattern from the bottom up and differs only in its extent.
        var coin = SplitMix64(seed: seed ^ 0xF1EE_F1EE)
        for (b, k) in runs where coin.next() & 1 == 0 { a.free(base: b, pages: k) }
    }

    func measureDirect(_ a: inout PageAllocator, pages: Int, iterations: Int) -> Double {
        var failures = 0
        let t0 = ContinuousClock.now
        for _ in 0..<iterations {
            if let r = a.allocate(pages: pages) { a.free(base: r.base, pages: pages) } else { failures += 1 }
        }
        let t = seconds(ContinuousClock.now - t0)
        if failures > 0 { print("  (\(pages) pages: \(failures) allocations failed)") }
        return t * 1e9 / Double(iterations)
    }

    /// Allocates through a PageCache for fewer than 16 pages (refilled with
    /// allocToCache when it cannot serve the request, the remainder flushed),
    /// directly otherwise. A run that lies in the cache's block goes back to
    /// the cache (`PageCache.free`, as the heap frees a thread's small spans);
    /// any other run to the allocator, as in Go.
    func measureCached(_ a: inout PageAllocator, pages: Int, iterations: Int) -> Double {
        var cache = PageCache()
        var failures = 0
        let t0 = ContinuousClock.now
        for _ in 0..<iterations {
            var r: (base: UInt, scavengedBytes: Int)?
            if pages < Self.cacheLimit {
                r = cache.allocate(pages: pages)
                if r == nil {
                    a.flush(&cache)
                    cache = a.allocToCache()
                    r = cache.allocate(pages: pages) ?? a.allocate(pages: pages)
                }
            } else {
                r = a.allocate(pages: pages)
            }
            if let r {
                if !cache.free(base: r.base, pages: pages) { a.free(base: r.base, pages: pages) }
            } else {
                failures += 1
            }
        }
        let t = seconds(ContinuousClock.now - t0)
        a.flush(&cache)
        if failures > 0 { print("  (\(pages) pages via cache: \(failures) allocations failed)") }
        return t * 1e9 / Double(iterations)
    }
}

private func seconds(_ d: Duration) -> Double {
    Double(d.components.seconds) + Double(d.components.attoseconds) * 1e-18
}
private func format1(_ x: Double) -> String { String(Double(Int((x * 10).rounded())) / 10) }
private func format2(_ x: Double) -> String { String(Double(Int((x * 100).rounded())) / 100) }
private func pad(_ s: String, _ n: Int) -> String { s.count >= n ? s : s + String(repeating: " ", count: n - s.count) }
private func label(_ bytes: Int) -> String { bytes >= 1 << 40 ? "\(bytes >> 40) TiB" : bytes >= 1 << 30 ? "\(bytes >> 30) GiB" : "\(bytes >> 20) MiB" }
