import Central
import Glibc
import Platform
import SpanCore
import Synchronization
import Testing

/// A span source over mapped memory that counts what it hands out and gets back.
final class TestSource: SpanSource, @unchecked Sendable {
    var records = SpanRecordAllocator()
    var lock = pthread_mutex_t()
    var allocated = 0
    var freed = 0
    var live: Set<UInt> = []

    func allocateSpan(pages: Int, spanClass: SpanClass) -> SpanRef? {
        pthread_mutex_lock(&lock); defer { pthread_mutex_unlock(&lock) }
        let bytes = pages * SizeClasses.pageSize
        guard case .success(let memory) = SystemMemory.mapAnonymous(bytes: bytes),
              let span = records.allocate(objects: SizeClasses.objects(ofClass: spanClass.sizeClass)) else { return nil }
        Span.initialize(span, start: UInt(bitPattern: memory), pageCount: pages, pageSize: SizeClasses.pageSize,
                        spanClass: spanClass, elemSize: SizeClasses.size(ofClass: spanClass.sizeClass),
                        node: 0, needzero: false)
        allocated += 1
        live.insert(UInt(bitPattern: span))
        return span
    }

    func freeSpan(_ span: SpanRef) {
        pthread_mutex_lock(&lock); defer { pthread_mutex_unlock(&lock) }
        #expect(span.pointee.allocCount.load(ordering: .relaxed) == 0, "a span with live objects was returned")
        #expect(live.remove(UInt(bitPattern: span)) != nil, "a span was returned twice")
        _ = SystemMemory.unmap(UnsafeMutableRawPointer(bitPattern: span.pointee.startAddress)!,
                               bytes: span.pointee.pageCount * SizeClasses.pageSize)
        span.pointee.state.store(SpanState.dead.rawValue, ordering: .releasing)
        records.free(span)
        freed += 1
    }
}

/// One node's central lists plus a source.
struct TestDirectory: CentralDirectory {
    let centrals: UnsafeMutablePointer<CentralList>
    let sourceObject: TestSource
    let empty: SpanRef

    func central(_ spanClass: SpanClass, node: Int32) -> UnsafeMutablePointer<CentralList> { centrals + spanClass.index }
    func source(node: Int32) -> TestSource { sourceObject }
    var emptySpan: SpanRef { empty }

    static func make() -> TestDirectory {
        let n = SpanClass.count(sizeClasses: SizeClasses.count)
        let centrals = UnsafeMutablePointer<CentralList>.allocate(capacity: n)
        let storage = UnsafeMutableRawPointer.allocate(byteCount: n * CentralList.storageBytes, alignment: 64)
        for c in 0..<n {
            let sc = SpanClass(rawValue: UInt8(c))
            (centrals + c).initialize(to: CentralList(spanClass: sc, pagesPerSpan: SizeClasses.pages(ofClass: sc.sizeClass),
                                                     storage: storage + c * CentralList.storageBytes))
        }
        let emptyRaw = UnsafeMutableRawPointer.allocate(byteCount: 1024, alignment: 64)
        let empty = emptyRaw.bindMemory(to: Span.self, capacity: 1)
        empty.initialize(to: Span(bitmaps: emptyRaw + 512, bitmapWords: 1, recordBucket: 0))
        return TestDirectory(centrals: centrals, sourceObject: TestSource(), empty: empty)
    }

    func newCache() -> UnsafeMutablePointer<ThreadCache> {
        let bytes = ThreadCache.recordBytes(spanClassCount: SpanClass.count(sizeClasses: SizeClasses.count),
                                            sizeClassCount: SizeClasses.count)
        let raw = UnsafeMutableRawPointer.allocate(byteCount: bytes, alignment: 64)
        return ThreadCache.initialize(at: raw, spanClassCount: SpanClass.count(sizeClasses: SizeClasses.count),
                                      sizeClassCount: SizeClasses.count, empty: empty, node: 0, heapID: 1)
    }
}

@Suite struct CentralTests {
    let spanClass = SpanClass(sizeClass: 5, noscan: true)  // 48 B, 170 per span

    func allocate(_ cache: UnsafeMutablePointer<ThreadCache>, _ d: TestDirectory) -> UInt {
        if let a = cache.pointee.spans[spanClass.index].pointee.nextFreeFast() { return a }
        return ThreadCache.nextFree(cache, spanClass, directory: d)!
    }

    @Test func retainedEmptySpansAreAByteBudget() {
        #expect(CentralList.retainedEmptyLimit(pagesPerSpan: 1) == min(8, CentralList.retainedEmptyBytes / SizeClasses.pageSize))
        #expect(CentralList.retainedEmptyLimit(pagesPerSpan: 4) == max(1, CentralList.retainedEmptyBytes / (4 * SizeClasses.pageSize)))
        #expect(CentralList.retainedEmptyLimit(pagesPerSpan: 1000) == 1, "at least one, however large the span")
        for pages in 1...64 {
            let kept = CentralList.retainedEmptyLimit(pagesPerSpan: pages)
            #expect(kept >= 1 && kept <= 8)
            #expect(kept == 1 || kept * pages * SizeClasses.pageSize <= CentralList.retainedEmptyBytes)
        }
    }

    @Test func refillSweepsOwnFreesBeforeTakingANewSpan() {
        let d = TestDirectory.make()
        let cache = d.newCache()
        // Allocate and free one object at a time: one span serves forever.
        for _ in 0..<10_000 {
            let a = allocate(cache, d)
            let span = cache.pointee.spans[spanClass.index]
            #expect(span.pointee.freeLocal(span.pointee.objectIndex(of: a)) == nil)
        }
        #expect(d.sourceObject.allocated == 1)
    }

    @Test func fullSpansMoveToPartialOnRemoteFreeAndEmptySpansGoBack() {
        let d = TestDirectory.make()
        let cache = d.newCache()
        let perSpan = SizeClasses.objects(ofClass: spanClass.sizeClass)
        // Two spans more than the list keeps empty, so some must go back.
        let kept = CentralList.retainedEmptyLimit(pagesPerSpan: SizeClasses.pages(ofClass: spanClass.sizeClass))
        let spanCount = kept + 2
        var objects: [UInt] = []
        for _ in 0..<(spanCount * perSpan) { objects.append(allocate(cache, d)) }
        #expect(d.sourceObject.allocated == spanCount)
        ThreadCache.flush(cache, directory: d)
        let central = d.central(spanClass, node: 0)
        #expect(central.pointee.retainedEmptyLimit == kept)
        #expect(central.pointee.spans.pointee.full.count == spanCount)
        // One remote free into each span moves it to partial.
        for s in 0..<spanCount {
            let a = objects[s * perSpan]
            let owner = findSpan(a, d)
            let refusal = CentralList.freeRemote(owner, index: owner.pointee.objectIndex(of: a), directory: d)
            #expect(refusal == nil, "remote free of \(a) refused")
        }
        #expect(central.pointee.spans.pointee.full.count == 0)
        #expect(central.pointee.spans.pointee.partial.count == spanCount)
        // Freeing everything else returns every span to the source.
        for (i, a) in objects.enumerated() where i % perSpan != 0 {
            let owner = findSpan(a, d)
            let refusal = CentralList.freeRemote(owner, index: owner.pointee.objectIndex(of: a), directory: d)
            #expect(refusal == nil, "remote free of \(a) refused")
        }
        // `kept` empty spans stay for reuse (CentralList.retainedEmptyLimit); the rest go back.
        #expect(d.sourceObject.freed == spanCount - kept)
        #expect(central.pointee.spans.pointee.partial.count == kept)
        #expect(central.pointee.releaseEmptySpans(source: d.sourceObject) == kept)
        #expect(d.sourceObject.freed == spanCount)
    }

    /// The span holding `address`, by scanning the source's live spans (tests only).
    func findSpan(_ address: UInt, _ d: TestDirectory) -> SpanRef {
        for raw in d.sourceObject.live {
            let s = UnsafeMutablePointer<Span>(bitPattern: raw)!
            if s.pointee.contains(address) { return s }
        }
        fatalError("no span for \(address)")
    }

    @Test func twoThreadsFreeingEachOthersObjectsLoseNothing() {
        let d = TestDirectory.make()
        struct Shared { var d: TestDirectory; var ring: UnsafeMutablePointer<Atomic<UInt>>; var failures: UnsafeMutablePointer<Atomic<Int>> }
        let ring = UnsafeMutablePointer<Atomic<UInt>>.allocate(capacity: 256)
        for i in 0..<256 { (ring + i).initialize(to: Atomic(0)) }
        let failures = UnsafeMutablePointer<Atomic<Int>>.allocate(capacity: 1)
        failures.initialize(to: Atomic(0))
        let shared = UnsafeMutablePointer<Shared>.allocate(capacity: 1)
        shared.initialize(to: Shared(d: d, ring: ring, failures: failures))
        // Producer allocates and publishes; consumer frees remotely.
        var producer = pthread_t(), consumer = pthread_t()
        pthread_create(&producer, nil, { arg in
            let s = arg!.assumingMemoryBound(to: Shared.self)
            let cache = s.pointee.d.newCache()
            let sc = SpanClass(sizeClass: 5, noscan: true)
            for i in 0..<20_000 {
                let a = cache.pointee.spans[sc.index].pointee.nextFreeFast() ?? ThreadCache.nextFree(cache, sc, directory: s.pointee.d)!
                UnsafeMutablePointer<UInt>(bitPattern: a)!.pointee = a  // pattern: its own address
                while s.pointee.ring[i & 255].load(ordering: .acquiring) != 0 { sched_yield() }
                s.pointee.ring[i & 255].store(a, ordering: .releasing)
            }
            ThreadCache.flush(cache, directory: s.pointee.d)
            return nil
        }, shared)
        pthread_create(&consumer, nil, { arg in
            let s = arg!.assumingMemoryBound(to: Shared.self)
            for i in 0..<20_000 {
                var a: UInt = 0
                while true { a = s.pointee.ring[i & 255].load(ordering: .acquiring); if a != 0 { break }; sched_yield() }
                s.pointee.ring[i & 255].store(0, ordering: .releasing)
                if UnsafeMutablePointer<UInt>(bitPattern: a)!.pointee != a { s.pointee.failures.pointee.add(1, ordering: .relaxed) }
                var found: SpanRef? = nil
                pthread_mutex_lock(&s.pointee.d.sourceObject.lock)
                for raw in s.pointee.d.sourceObject.live {
                    let sp = UnsafeMutablePointer<Span>(bitPattern: raw)!
                    if sp.pointee.contains(a) { found = sp }
                }
                pthread_mutex_unlock(&s.pointee.d.sourceObject.lock)
                guard let span = found else { s.pointee.failures.pointee.add(1, ordering: .relaxed); continue }
                if CentralList.freeRemote(span, index: span.pointee.objectIndex(of: a), directory: s.pointee.d) != nil {
                    s.pointee.failures.pointee.add(1, ordering: .relaxed)
                }
            }
            return nil
        }, shared)
        pthread_join(producer, nil)
        pthread_join(consumer, nil)
        #expect(failures.pointee.load(ordering: .relaxed) == 0)
        // Every object was freed: whatever is left on the central list is empty after a sweep.
        let central = d.central(SpanClass(sizeClass: 5, noscan: true), node: 0)
        var leftover = 0
        while let span = central.pointee.spans.pointee.partial.popFirst() {
            _ = span.pointee.sweepFrees()
            leftover += span.pointee.allocCount.load(ordering: .relaxed)
        }
        #expect(leftover == 0)
        #expect(central.pointee.spans.pointee.full.count == 0)
    }
}

@Suite struct FreeObjectBinTests {
    @Test func binsSitAfterTheHeaderWithTheLimitsGivenAndEverythingElseIntact() {
        let n = SizeClasses.count, spanClasses = SpanClass.count(sizeClasses: n)
        let bytes = ThreadCache.recordBytes(spanClassCount: spanClasses, sizeClassCount: n)
        let raw = UnsafeMutableRawPointer.allocate(byteCount: bytes, alignment: 64)
        raw.initializeMemory(as: UInt8.self, repeating: 0xEE, count: bytes)  // No zeroed memory to hide behind.
        defer { raw.deallocate() }
        let limits = UnsafeMutablePointer<Int32>.allocate(capacity: n)
        defer { limits.deallocate() }
        for c in 0..<n { limits[c] = Int32(c * 2) }
        let empty = UnsafeMutableRawPointer(bitPattern: 0x1000)!.assumingMemoryBound(to: Span.self)
        let cache = ThreadCache.initialize(at: raw, spanClassCount: spanClasses, sizeClassCount: n,
                                           empty: empty, node: 3, heapID: 9, objectLimits: limits)
        let bins = ThreadCache.bins(cache)
        #expect(UnsafeMutableRawPointer(bins) == raw + ThreadCache.headerBytes)
        #expect(bins[0].limit == 0)  // Class 0 (large) has no bin, whatever the table says.
        for c in 1..<n {
            #expect(bins[c].head == 0 && bins[c].count == 0 && bins[c].limit == Int32(c * 2))
        }
        // The bins do not overlap the span slots, the counters or the scratch area.
        let binsEnd = UnsafeMutableRawPointer(bins + n)
        #expect(UnsafeMutableRawPointer(cache.pointee.spans) >= binsEnd)
        for s in 0..<spanClasses { #expect(cache.pointee.spans[s] == empty) }
        for c in 0..<n { #expect(cache.pointee.mallocs[c].load(ordering: .relaxed) == 0) }
        let scratch = cache.pointee.heapScratch.assumingMemoryBound(to: UInt8.self)
        #expect((0..<ThreadCache.heapScratchBytes).allSatisfy { scratch[$0] == 0 })
        #expect(cache.pointee.heapScratch + ThreadCache.heapScratchBytes <= raw + bytes)
        #expect(cache.pointee.objectNodes == ~0)
    }

    @Test func withoutATableNoClassIsBinned() {
        let n = SizeClasses.count, spanClasses = SpanClass.count(sizeClasses: n)
        let raw = UnsafeMutableRawPointer.allocate(byteCount: ThreadCache.recordBytes(spanClassCount: spanClasses, sizeClassCount: n),
                                                   alignment: 64)
        defer { raw.deallocate() }
        let empty = UnsafeMutableRawPointer(bitPattern: 0x1000)!.assumingMemoryBound(to: Span.self)
        let cache = ThreadCache.initialize(at: raw, spanClassCount: spanClasses, sizeClassCount: n,
                                           empty: empty, node: 0, heapID: 1)
        #expect((0..<n).allSatisfy { ThreadCache.bins(cache)[$0].limit == 0 })
    }
}
