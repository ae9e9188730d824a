import Dispatch
import Glibc
import NUMAHeap
import NUMAHeapCollected
import Platform
import Testing

/// Hands non-Sendable test values to worker threads (each thread writes only its own slots).
struct Shared<T>: @unchecked Sendable {
    let value: T
    init(_ value: T) { self.value = value }
}

@Suite struct CollectedHeapTests {
    /// Random graphs, roots dropped at random over several cycles: every
    /// reachable node survives intact, every unreachable one is freed exactly
    /// once (the freed counts add up; freed memory is reused only after).
    @Test(arguments: [UInt64(1), 2, 3])
    func randomGraphsKeepReachableAndFreeTheRest(seed: UInt64) throws {
        var rng = SplitMix64(seed: seed)
        let heap = try CollectedHeap()
        let rt = ToyRuntime(heap: heap)
        var all: [UnsafeMutableRawPointer] = []
        var allocated = 0
        var freedTotal = 0
        for round in 0..<4 {
            // Grow the graph: new nodes pointing at random older or new nodes.
            for _ in 0..<1500 {
                let n = try rt.newNode()
                allocated += 1
                #expect(n.toyNode.pointee.childCount == 0)
                for _ in 0..<Int.random(in: 0...ToyNode.maxChildren, using: &rng) where !all.isEmpty {
                    rt.link(n, to: all[Int.random(in: 0..<all.count, using: &rng)])
                }
                all.append(n)
                if Int.random(in: 0..<10, using: &rng) == 0 { rt.roots.append(n) }
            }
            // Drop random roots.
            rt.roots.removeAll { _ in Int.random(in: 0..<3, using: &rng) == 0 }
            // What is reachable, by a tracer that does not use the heap.
            var reachable = Set<UnsafeMutableRawPointer>()
            var work = rt.roots
            while let p = work.popLast() {
                if reachable.insert(p).inserted { work.append(contentsOf: rt.children(of: p)) }
            }
            let result = rt.collect()
            #expect(result.freedObjects == all.count - reachable.count, "round \(round)")
            #expect(result.freedBytes == result.freedObjects * 64)   // 56-byte nodes: the 64-byte class
            freedTotal += result.freedObjects
            for p in reachable {
                let n = p.toyNode.pointee
                #expect(n.pattern == ToyNode.pattern(of: n.id))
                #expect(heap.findObject(p)?.base == p)
            }
            for p in all where !reachable.contains(p) { #expect(heap.findObject(p) == nil) }
            all = Array(reachable)
            let st = heap.statistics
            #expect(st.liveObjects == reachable.count)
            #expect(st.freedObjects == freedTotal)
            #expect(st.freedObjects + st.liveObjects == allocated)
        }
        // Freed slots are reused, never live ones, and come back zeroed.
        let live = Set(all)
        for _ in 0..<3000 {
            let p = try heap.allocate(byteCount: MemoryLayout<ToyNode>.size)
            #expect(!live.contains(p))
            #expect(p.load(as: UInt64.self) == 0 && p.load(fromByteOffset: 40, as: UInt64.self) == 0)
        }
        for p in all { #expect(p.toyNode.pointee.pattern == ToyNode.pattern(of: p.toyNode.pointee.id)) }
    }

    /// A second sweep with no marks frees each survivor once; a third frees nothing.
    @Test func nothingIsFreedTwice() throws {
        let heap = try CollectedHeap()
        var ps: [UnsafeMutableRawPointer] = []
        for i in 0..<1000 { ps.append(try heap.allocate(byteCount: 16 + i % 200)) }
        for p in ps[..<400] { heap.mark(p) }
        let first = heap.sweep()
        #expect(first.freedObjects == 600)
        let second = heap.sweep()
        #expect(second.freedObjects == 400)
        let third = heap.sweep()
        #expect(third.freedObjects == 0)
        #expect(heap.statistics.liveObjects == 0)
        #expect(heap.statistics.spans == 0)
        #expect(heap.statistics.cycles == 3)
    }

    @Test func interiorPointersFindAndMarkTheirObject() throws {
        let heap = try CollectedHeap()
        for size in [1, 8, 48, 100, 1000, 4000, 32768, 40000, 300_000] {
            let p = try heap.allocate(byteCount: size)
            let found = try #require(heap.findObject(p))
            #expect(found.base == p)
            #expect(found.size >= size)
            for offset in [0, size / 2, size - 1] {
                #expect(heap.findObject(p + offset)?.base == p, "size \(size) offset \(offset)")
            }
            #expect(!heap.isMarked(p))
            #expect(heap.mark(p + size - 1))
            #expect(!heap.mark(p))
            #expect(heap.isMarked(p + size / 2))
        }
        #expect(heap.sweep().freedObjects == 0)
        #expect(heap.sweep().freedObjects == 9)
    }

    @Test func findObjectRejectsWhatIsNotAnObject() throws {
        let heap = try CollectedHeap()
        let foreign = malloc(64)!
        defer { free(foreign) }
        #expect(heap.findObject(foreign) == nil)
        #expect(!heap.mark(foreign))
        var local = 0
        withUnsafeMutablePointer(to: &local) { #expect(heap.findObject($0) == nil) }
        let p = try heap.allocate(byteCount: 64)
        // The next slot has not been handed out yet.
        #expect(heap.findObject(p + 64) == nil)
        #expect(!heap.mark(p + 64))
        // After a sweep that frees it, the slot is not an object any more.
        heap.sweep()
        #expect(heap.findObject(p) == nil)
        // Another heap's object is foreign to this one.
        let other = try CollectedHeap()
        let q = try other.allocate(byteCount: 64)
        #expect(heap.findObject(q) == nil)
    }

    @Test func badSizesThrowNamingTheValue() throws {
        let heap = try CollectedHeap()
        #expect(throws: HeapError.invalidSize(-1)) { try heap.allocate(byteCount: -1) }
        let huge = CollectedHeap.maximumByteCount + 1
        #expect(throws: HeapError.invalidSize(huge)) { try heap.allocate(byteCount: huge) }
        #expect(HeapError.invalidSize(-1).description.contains("-1"))
        // Size 0 gives a unique object.
        let a = try heap.allocate(byteCount: 0), b = try heap.allocate(byteCount: 0)
        #expect(a != b)
    }

    @Test func noscanObjectsLiveInTheirOwnSpans() throws {
        let heap = try CollectedHeap()
        let scan = try heap.allocate(byteCount: 64)
        let noscan = try heap.allocate(byteCount: 64, noscan: true)
        // Different span classes: different spans, so different pages.
        #expect(UInt(bitPattern: scan) >> 13 != UInt(bitPattern: noscan) >> 13)
        heap.mark(noscan)
        #expect(heap.sweep().freedObjects == 1)
        #expect(heap.findObject(noscan)?.base == noscan)
    }

    /// Go's markbits race: of many markers on the same objects, exactly one
    /// gets `true` per object.
    @Test func concurrentMarkersMarkEachObjectOnce() throws {
        let heap = try CollectedHeap()
        var objects: [UnsafeMutableRawPointer] = []
        for i in 0..<4000 { objects.append(try heap.allocate(byteCount: 8 << (i % 6))) }
        let wins = UnsafeMutablePointer<Int>.allocate(capacity: 4)
        wins.initialize(repeating: 0, count: 4)
        defer { wins.deallocate() }
        let objs = Shared(objects), w = Shared(wins)
        DispatchQueue.concurrentPerform(iterations: 4) { t in
            var n = 0
            // Every thread marks every object, through a different interior offset.
            for (i, p) in objs.value.enumerated() where heap.mark(p + (t + i) % 8) { n += 1 }
            w.value[t] = n
        }
        #expect((0..<4).reduce(0) { $0 + wins[$1] } == objects.count)
        for p in objects { #expect(heap.isMarked(p)) }
        #expect(heap.sweep().freedObjects == 0)
    }

    /// Lazy sweep: after beginCycle, allocation sweeps spans of its class as it
    /// needs them; sweep(budget:) sweeps at most its budget; finishSweep the rest.
    /// Every span is swept exactly once in the cycle.
    @Test func lazySweepInterleavedWithAllocation() throws {
        let heap = try CollectedHeap()
        var ps: [UnsafeMutableRawPointer] = []
        for _ in 0..<5000 { ps.append(try heap.allocate(byteCount: 128)) }   // 64 per span
        for _ in 0..<500 { _ = try heap.allocate(byteCount: 512) }
        var kept = Set<UnsafeMutableRawPointer>()
        for (i, p) in ps.enumerated() where i % 2 == 0 { heap.mark(p); kept.insert(p) }
        for p in kept { p.storeBytes(of: 0xfeed, as: UInt64.self) }
        let spans = heap.statistics.spans
        heap.beginCycle()
        #expect(heap.statistics.sweepDone == false)
        #expect(heap.statistics.sweepgen % 2 == 0)
        let before = heap.statistics.sweptSpans
        // Allocation sweeps lazily: new objects land in freed slots, never on live ones.
        for _ in 0..<1000 {
            let p = try heap.allocate(byteCount: 128)
            #expect(!kept.contains(p))
            #expect(p.load(as: UInt64.self) == 0)
        }
        let lazily = heap.statistics.sweptSpans - before
        #expect(lazily > 0 && lazily < spans)
        let budgeted = heap.sweep(budget: 3)
        #expect(budgeted.sweptSpans <= 3 && budgeted.sweptSpans > 0)
        let rest = heap.finishSweep()
        #expect(heap.statistics.sweepDone)
        #expect(rest.sweptSpans == spans, "each span swept exactly once in the cycle")
        #expect(rest.freedObjects == 2500 + 500)
        for p in kept { #expect(p.load(as: UInt64.self) == 0xfeed) }
        #expect(heap.finishSweep().sweptSpans == spans, "nothing more swept")
        #expect(heap.sweep(budget: 10).sweptSpans == 0)
    }

    /// Allocating threads sweep lazily while another thread runs sweep(budget:).
    @Test func concurrentLazySweepers() throws {
        let heap = try CollectedHeap()
        var kept: [UnsafeMutableRawPointer] = []
        for i in 0..<8000 {
            let p = try heap.allocate(byteCount: 32 + (i % 8) * 16)
            if i % 3 == 0 { heap.mark(p); p.storeBytes(of: UInt64(i), as: UInt64.self); kept.append(p) }
        }
        let spans = heap.statistics.spans
        heap.beginCycle()
        let k = Shared(Set(kept))
        let bad = UnsafeMutablePointer<Int>.allocate(capacity: 1)
        bad.initialize(to: 0)
        defer { bad.deallocate() }
        let badCount = Shared(bad)
        DispatchQueue.concurrentPerform(iterations: 3) { t in
            if t == 0 {
                while heap.sweep(budget: 4).sweptSpans > 0 {}
            } else {
                for j in 0..<2000 {
                    guard let p = try? heap.allocate(byteCount: 32 + (j % 8) * 16) else { continue }
                    if k.value.contains(p) { badCount.value.pointee += 1 }
                }
            }
        }
        let r = heap.finishSweep()
        #expect(bad.pointee == 0)
        #expect(r.sweptSpans == spans)
        #expect(r.freedObjects == 8000 - kept.count)
        for (i, p) in kept.enumerated() { #expect(p.load(as: UInt64.self) == UInt64(i * 3)) }
    }

    /// The reclaimer frees whole unmarked spans through pageInUse &^ pageMarks,
    /// before the heap grows, and keeps surplus pages as credit.
    @Test func reclaimerFreesWholeUnmarkedSpans() throws {
        let heap = try CollectedHeap()
        var ps: [UnsafeMutableRawPointer] = []
        for _ in 0..<64 { ps.append(try heap.allocate(byteCount: 40_000)) }      // 5 pages each
        for _ in 0..<2000 { ps.append(try heap.allocate(byteCount: 256)) }       // 32 per 1-page span
        let keep = ps[0]
        heap.mark(keep)
        heap.mark(ps[100])
        heap.beginCycle()
        let got = heap.reclaim(pages: 10)
        #expect(got >= 10)
        let st = heap.statistics
        #expect(st.reclaimedPages >= 10)
        #expect(st.sweepDone == false)
        // Credit: the chunk freed more than asked, so a small request is served from it.
        let before = heap.statistics.reclaimedPages
        #expect(heap.reclaim(pages: 1) == 1)
        _ = before
        // A new large allocation reclaims before growing; the marked objects survive.
        _ = try heap.allocate(byteCount: 100_000)
        let r = heap.finishSweep()
        #expect(r.reclaimedPages >= 10)
        #expect(r.freedObjects == 64 + 2000 - 2)
        #expect(heap.findObject(keep)?.base == keep)
        #expect(heap.findObject(ps[100])?.base == ps[100])
        #expect(heap.reclaim(pages: 5) == 0, "nothing to reclaim once the sweep is done")
    }

    @Test func sweepgenAdvancesByTwoPerCycle() throws {
        let heap = try CollectedHeap()
        let g0 = heap.statistics.sweepgen
        heap.sweep()
        heap.beginCycle()
        #expect(heap.statistics.sweepgen == g0 + 4)
        heap.finishSweep()
        #expect(heap.statistics.cycles == 2)
    }

    @Test func markDuringTheSweepPhaseIsReported() async {
        let r = await #expect(processExitsWith: .signal(SIGABRT), observing: [\.standardErrorContent]) {
            let heap = try CollectedHeap()
            let p = try heap.allocate(byteCount: 32)
            heap.beginCycle()
            heap.mark(p)
        }
        let text = String(decoding: r?.standardErrorContent ?? [], as: UTF8.self)
        #expect(text.contains("during the sweep phase: call finishSweep()"))
    }
}
