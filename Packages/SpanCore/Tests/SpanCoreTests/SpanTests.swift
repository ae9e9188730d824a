import Glibc
import Platform
import SpanCore
import Synchronization
import Testing

/// A span over real mapped memory for tests: record + pages.
struct TestSpan: ~Copyable {
    var records = SpanRecordAllocator()
    let span: SpanRef
    let memory: UnsafeMutableRawPointer
    let bytes: Int

    init(sizeClass: Int) {
        let pages = SizeClasses.pages(ofClass: sizeClass)
        bytes = pages * SizeClasses.pageSize
        memory = try! SystemMemory.mapAnonymous(bytes: bytes).get()
        span = records.allocate(objects: SizeClasses.objects(ofClass: sizeClass))!
        Span.initialize(span, start: UInt(bitPattern: memory), pageCount: pages, pageSize: SizeClasses.pageSize,
                        spanClass: SpanClass(sizeClass: sizeClass, noscan: true),
                        elemSize: SizeClasses.size(ofClass: sizeClass), node: 0, needzero: false)
    }

    /// Allocates through the fast path, falling back to nextFreeIndex.
    func next() -> UInt? {
        if let a = span.pointee.nextFreeFast() { return a }
        let i = span.pointee.nextFreeIndex()
        return i < span.pointee.nelems ? span.pointee.objectAddress(i) : nil
    }

    deinit { _ = SystemMemory.unmap(memory, bytes: bytes) }
}

@Suite struct SpanTests {
    @Test(arguments: [1, 2, 5, 10, 26, 40, 66])
    func allocatesEveryObjectOnceInAddressOrder(sizeClass: Int) {
        let t = TestSpan(sizeClass: sizeClass)
        let n = t.span.pointee.nelems
        #expect(n == SizeClasses.objects(ofClass: sizeClass))
        var previous: UInt? = nil
        for i in 0..<n {
            let a = t.next()
            #expect(a == t.span.pointee.objectAddress(i))
            if let p = previous, let a { #expect(a > p) }
            previous = a
        }
        #expect(t.next() == nil)
        #expect(t.span.pointee.allocCount.load(ordering: .relaxed) == n)
        let full = t.span.pointee.isFull
        #expect(full)
    }

    @Test func sweepMakesLocalAndRemoteFreesAllocatableAgain() {
        let t = TestSpan(sizeClass: 5)  // 48 B, 170 objects
        let n = t.span.pointee.nelems
        var addresses: [UInt] = []
        while let a = t.next() { addresses.append(a) }
        #expect(addresses.count == n)
        // Free every third object locally, every fifth remotely.
        var freed = Set<Int>()
        for i in stride(from: 0, to: n, by: 3) { #expect(t.span.pointee.freeLocal(i) == nil); freed.insert(i) }
        for i in stride(from: 1, to: n, by: 5) where !freed.contains(i) {
            guard case .success = t.span.pointee.freeRemote(i) else { Issue.record("remote free \(i) refused"); continue }
            freed.insert(i)
        }
        #expect(t.span.pointee.remoteFreeCount.load(ordering: .relaxed) == freed.filter { $0 % 3 != 0 }.count)
        #expect(t.span.pointee.sweepFrees() == freed.count)
        #expect(t.span.pointee.remoteFreeCount.load(ordering: .relaxed) == 0)
        #expect(t.span.pointee.allocCount.load(ordering: .relaxed) == n - freed.count)
        var again = Set<Int>()
        while let a = t.next() { again.insert(t.span.pointee.objectIndex(of: a)) }
        #expect(again == freed)
    }

    @Test func refusesDoubleAndUnallocatedFrees() {
        let t = TestSpan(sizeClass: 3)
        let a = t.next()!
        let i = t.span.pointee.objectIndex(of: a)
        #expect(t.span.pointee.freeLocal(i) == nil)
        #expect(t.span.pointee.freeLocal(i) == .alreadyFreed)
        #expect(t.span.pointee.freeLocal(i + 10) == .notAllocated)
        guard case .failure(.notAllocated) = t.span.pointee.freeRemote(i + 11) else {
            Issue.record("remote free of an unallocated object accepted"); return
        }
        _ = t.span.pointee.sweepFrees()
        // After the sweep the object is free: freeing it again is "not allocated".
        #expect(t.span.pointee.freeLocal(i) == .notAllocated)
    }

    @Test func concurrentRemoteFreesAreEachCountedOnce() {
        let t = TestSpan(sizeClass: 1)  // 8 B, 1024 objects
        let n = t.span.pointee.nelems
        while t.next() != nil {}
        let span = t.span
        let accepted = UnsafeMutablePointer<Atomic<Int>>.allocate(capacity: 1)
        accepted.initialize(to: Atomic(0))
        defer { accepted.deallocate() }
        struct Job { var span: SpanRef; var accepted: UnsafeMutablePointer<Atomic<Int>>; var n: Int }
        var threads: [pthread_t] = []
        for _ in 0..<4 {
            let job = UnsafeMutablePointer<Job>.allocate(capacity: 1)
            job.initialize(to: Job(span: span, accepted: accepted, n: n))
            var th = pthread_t()
            pthread_create(&th, nil, { arg in
                let job = arg!.assumingMemoryBound(to: Job.self)
                // Every thread tries to free every object: exactly one wins each.
                for i in 0..<job.pointee.n {
                    if case .success = job.pointee.span.pointee.freeRemote(i) {
                        job.pointee.accepted.pointee.add(1, ordering: .relaxed)
                    }
                }
                job.deallocate()
                return nil
            }, job)
            threads.append(th)
        }
        for th in threads { pthread_join(th, nil) }
        #expect(accepted.pointee.load(ordering: .relaxed) == n)
        #expect(span.pointee.sweepFrees() == n)
        #expect(span.pointee.allocCount.load(ordering: .relaxed) == 0)
    }

    @Test func objectIndexMatchesDivisionForEveryOffset() {
        for c in 1..<SizeClasses.count {
            let t = TestSpan(sizeClass: c)
            let size = SizeClasses.size(ofClass: c)
            for offset in stride(from: 0, to: t.span.pointee.nelems * size, by: 1 + size / 7) {
                #expect(t.span.pointee.objectIndex(of: t.span.pointee.startAddress + UInt(offset)) == offset / size)
            }
        }
    }

    @Test func spanListKeepsItsInvariants() async {
        var records = SpanRecordAllocator()
        let a = records.allocate(objects: 1)!, b = records.allocate(objects: 1)!, c = records.allocate(objects: 100)!
        let list = UnsafeMutablePointer<SpanList>.allocate(capacity: 1)
        list.initialize(to: SpanList())
        list.pointee.insert(a); list.pointee.insertBack(b); list.pointee.insert(c)
        #expect(list.pointee.count == 3)
        #expect(list.pointee.first == c && list.pointee.last == b)
        list.pointee.remove(a)
        #expect(c.pointee.next == b && b.pointee.prev == c)
        #expect(list.pointee.popFirst() == c)
        #expect(list.pointee.popFirst() == b)
        let empty = list.pointee.isEmpty
        #expect(empty)
        list.deinitialize(count: 1); list.deallocate()
        let r = await #expect(processExitsWith: .signal(SIGABRT), observing: [\.standardErrorContent]) {
            var records = SpanRecordAllocator()
            let s = records.allocate(objects: 1)!
            let l = UnsafeMutablePointer<SpanList>.allocate(capacity: 1)
            l.initialize(to: SpanList())
            l.pointee.insert(s)
            l.pointee.insert(s)
        }
        let text = String(decoding: r?.standardErrorContent ?? [], as: UTF8.self)
        #expect(text.contains("SpanList: insert of a span already on a list"))
    }

    @Test func spanRecordsAreReusedBySize() {
        var records = SpanRecordAllocator()
        let small = records.allocate(objects: 10)!
        #expect(small.pointee.bitmapWords == 1)
        let big = records.allocate(objects: 1024)!
        #expect(big.pointee.bitmapWords == 16)
        #expect(records.inUse == 2)
        records.free(small)
        #expect(records.allocate(objects: 60) == small)
        records.free(big)
        #expect(records.allocate(objects: 700) == big)
    }
}
