import ArenaMap
import GCBits
import Glibc
@_spi(NUMAHeapInternals) import NUMAHeap
import Platform
import SpanCore
import Synchronization

/// A garbage-collected heap for language runtimes written in Swift: Go 1.14's
/// mark bits, lazy sweeping under `sweepgen`, page reclaimer and finalizer
/// specials over NUMAHeap's spans (Docs/CollectedHeap.md).
///
/// The runtime owns the object graph; the heap owns memory and liveness:
///
/// ```swift
/// let gc = try CollectedHeap()
/// let o = try gc.allocate(byteCount: 48)        // zeroed
/// try gc.setFinalizer(o) { base in /* runs once, after o was found unmarked */ }
/// gc.mark(o)                                    // or any interior pointer
/// let freed = gc.sweep()                        // frees what was not marked
/// ```
///
/// ## Phases
/// A cycle is: **mark** (`mark` from any number of threads; no allocation, or
/// mark what you allocate — Go allocates black), then **`beginCycle()`** (mark
/// termination: `sweepgen += 2`, every span now needs sweeping), then the
/// **sweep phase**, concurrent with allocation: spans are swept lazily by the
/// allocating threads, by `sweep(budget:)`, or whole by the reclaimer; then
/// **`finishSweep()`** (sweeps what is left, runs queued finalizers, resets the
/// mark bits' epoch and `pageMarks`) before the next mark. `sweep()` does
/// `beginCycle()` + `finishSweep()`.
///
/// One node: the collected heap takes its spans from node 0 of a private
/// `Heap` (see Docs/CollectedHeap.md).
public final class CollectedHeap: @unchecked Sendable {
    /// A finalizer: called with the object's address and the context given to
    /// ``setFinalizer(_:_:context:)``.
    public typealias Finalizer = @convention(c) (UnsafeMutableRawPointer, UnsafeMutableRawPointer?) -> Void

    /// The largest byte count ``allocate(byteCount:noscan:)`` accepts.
    public static var maximumByteCount: Int { Heap.maximumByteCount }

    /// The page heap the spans come from (explicit mode, used only by this heap).
    let pages: Heap
    let state: UnsafeMutablePointer<HeapState>
    let bits: GCBitsArenas
    let globals: UnsafeMutablePointer<GCGlobals>
    let spanClassCount: Int
    /// Per span class: a RawLock (Go's `mcentral.lock`) protecting the class's
    /// `current` span, its four lists, and its counters, and the allocation
    /// state of every span on them. Order: class → node (`mheap.lock`),
    /// class → span specials → finalizer queue. Never two class locks at once.
    let classLocks: UnsafeMutableRawPointer
    /// The span allocated from (Go's cached `mcache.alloc[spc]`), class lock.
    let classCurrent: UnsafeMutablePointer<SpanRef?>
    /// Four lists per class: partial/full × swept/unswept (``gcListIndex``), class lock.
    let classLists: UnsafeMutablePointer<SpanList>
    let classCounters: UnsafeMutablePointer<GCClassCounters>
    /// Cycle lock: serialises `beginCycle`/`finishSweep` (outermost).
    let cycleLock: RawLock
    /// Finalizer queue lock (leaf).
    let finqLock: RawLock
    /// Special-record and span-info pools (Go's `mheap.speciallock`; leaf).
    let specialLock: RawLock
    let mapping: UnsafeMutableRawPointer
    let mappingBytes: Int

    static let lockBytes = (RawLock.byteCount + 63) & ~63

    /// Creates a collected heap. Throws `HeapError.outOfMemory(requested:)`
    /// when its metadata cannot be mapped.
    public init(configuration: HeapConfiguration = .init()) throws(HeapError) {
        pages = try Heap(configuration: configuration)
        state = pages.core.state
        guard let b = try? GCBitsArenas() else { throw .outOfMemory(requested: 0) }
        bits = b
        spanClassCount = SpanClass.count(sizeClasses: SizeClasses.count)
        func round(_ n: Int) -> Int { (n + 63) & ~63 }
        var layout = 0
        let globalsOffset = layout; layout += round(MemoryLayout<GCGlobals>.stride)
        let locksOffset = layout; layout += CollectedHeap.lockBytes * (spanClassCount + 3)
        let currentOffset = layout; layout += round(MemoryLayout<SpanRef?>.stride * spanClassCount)
        let listsOffset = layout; layout += round(MemoryLayout<SpanList>.stride * 4 * spanClassCount)
        let countersOffset = layout; layout += round(MemoryLayout<GCClassCounters>.stride * spanClassCount)
        mappingBytes = (layout + 4095) & ~4095
        guard case .success(let base) = SystemMemory.mapAnonymous(bytes: mappingBytes) else {
            b.destroy()
            throw .outOfMemory(requested: mappingBytes)
        }
        mapping = base
        globals = (base + globalsOffset).bindMemory(to: GCGlobals.self, capacity: 1)
        globals.initialize(to: GCGlobals(sweepgen: 4))
        classLocks = base + locksOffset
        for i in 0..<spanClassCount { _ = RawLock(initializingAt: classLocks + i * CollectedHeap.lockBytes) }
        cycleLock = RawLock(initializingAt: classLocks + spanClassCount * CollectedHeap.lockBytes)
        finqLock = RawLock(initializingAt: classLocks + (spanClassCount + 1) * CollectedHeap.lockBytes)
        specialLock = RawLock(initializingAt: classLocks + (spanClassCount + 2) * CollectedHeap.lockBytes)
        classCurrent = (base + currentOffset).bindMemory(to: SpanRef?.self, capacity: spanClassCount)
        classCurrent.initialize(repeating: nil, count: spanClassCount)
        classLists = (base + listsOffset).bindMemory(to: SpanList.self, capacity: 4 * spanClassCount)
        for i in 0..<(4 * spanClassCount) { (classLists + i).initialize(to: SpanList()) }
        classCounters = (base + countersOffset).bindMemory(to: GCClassCounters.self, capacity: spanClassCount)
        classCounters.initialize(repeating: GCClassCounters(), count: spanClassCount)
    }

    deinit {
        // Finalizers still queued never run; their boxes are released.
        discardQueuedFinalizers()
        releaseFinalizerBoxes()
        bits.destroy()
        var chunk = globals.pointee.chunks.load(ordering: .relaxed)
        while let p = UnsafeMutableRawPointer(bitPattern: chunk) {
            chunk = p.load(as: UInt.self)
            _ = SystemMemory.unmap(p, bytes: gcPoolChunkBytes)
        }
        _ = SystemMemory.unmap(mapping, bytes: mappingBytes)
        // `pages` (the private Heap) unmaps the arenas when it goes.
    }

    @inline(__always) func classLock(_ i: Int) -> RawLock {
        RawLock(existingAt: classLocks + i &* CollectedHeap.lockBytes)
    }

    @inline(__always) var sweepgen: UInt32 { globals.pointee.sweepgen.load(ordering: .acquiring) }

    @inline(__always) static func info(_ span: SpanRef) -> GCSpanInfoRef? {
        span.pointee.gcmarkBits?.assumingMemoryBound(to: GCSpanInfo.self)
    }

    // MARK: Allocation

    /// Allocates `byteCount` zeroed bytes (Go's `mallocgc`): small sizes from a
    /// span of their size class — `noscan` picks the class's noscan span class,
    /// for objects the tracer need not scan — larger ones from a span of their
    /// own. Sweeps a span of the class first when one needs it (lazy sweep) and
    /// reclaims unmarked spans before growing the heap. Any thread.
    ///
    /// Throws `HeapError.invalidSize(_:)` for a negative or too large count,
    /// `HeapError.outOfMemory(requested:)` when the heap cannot grow.
    public func allocate(byteCount: Int, noscan: Bool = false) throws(HeapError) -> UnsafeMutableRawPointer {
        if _slowPath(byteCount < 0 || byteCount > CollectedHeap.maximumByteCount) { throw .invalidSize(byteCount) }
        let size = max(byteCount, 1)
        if size <= SizeClasses.maxSmallSize {
            let sc = SpanClass(sizeClass: SizeClasses.sizeClass(for: size), noscan: noscan)
            return try allocateSmall(sc, requested: byteCount)
        }
        return try allocateLarge(size, noscan: noscan)
    }

    @inline(__always)
    func allocateSmall(_ sc: SpanClass, requested: Int) throws(HeapError) -> UnsafeMutableRawPointer {
        let ci = sc.index
        let lock = classLock(ci)
        lock.lock()
        while true {
            if let s = classCurrent[ci] {
                if _slowPath(s.pointee.sweepgen.load(ordering: .relaxed) == sweepgen &+ 1) {
                    // Cached before this sweep began (Go's mcache.prepareForSweep →
                    // uncacheSpan): the span is ours to sweep.
                    classCurrent[ci] = nil
                    s.pointee.sweepgen.store(sweepgen &- 1, ordering: .relaxed)
                    sweepLockedQuiet(s, classIndex: ci)
                    continue
                }
                if let p = nextFree(s) {
                    let elem = s.pointee.elemSize
                    (classCounters + ci).pointee.liveObjects &+= 1
                    (classCounters + ci).pointee.liveBytes &+= elem
                    lock.unlock()
                    let raw = UnsafeMutableRawPointer(bitPattern: p).unsafelyUnwrapped
                    if s.pointee.needzero.load(ordering: .relaxed) { memset(raw, 0, elem) }
                    return raw
                }
                // Full: uncache onto the swept full list.
                classCurrent[ci] = nil
                s.pointee.sweepgen.store(sweepgen, ordering: .relaxed)
                classLists[gcListIndex(classIndex: ci, full: true, swept: true, sweepgen: sweepgen)].insert(s)
            }
            if let s = refillLocked(ci) {
                s.pointee.sweepgen.store(sweepgen &+ 3, ordering: .relaxed)
                classCurrent[ci] = s
                continue
            }
            // Nothing to allocate from: a new span, with the class lock released
            // (the reclaimer takes other class locks).
            lock.unlock()
            let pagesNeeded = SizeClasses.pages(ofClass: sc.sizeClass)
            guard let s = newSpan(pages: pagesNeeded, spanClass: sc) else {
                throw .outOfMemory(requested: requested)
            }
            lock.lock()
            (classCounters + ci).pointee.spans &+= 1
            classLists[gcListIndex(classIndex: ci, full: false, swept: true, sweepgen: sweepgen)].insert(s)
        }
    }

    /// A span with free objects for class `ci`, off the class's lists (class
    /// lock held): swept partial first, then unswept spans, swept here (Go's
    /// `mcentral.cacheSpan`). Nil when the class has none.
    func refillLocked(_ ci: Int) -> SpanRef? {
        let h = sweepgen
        if let s = classLists[gcListIndex(classIndex: ci, full: false, swept: true, sweepgen: h)].popFirst() {
            return s
        }
        for pass in 0..<2 where !globals.pointee.sweepDone.load(ordering: .relaxed) {
            let full = pass == 1
            let list = classLists + gcListIndex(classIndex: ci, full: full, swept: false, sweepgen: h)
            while let s = list.pointee.popFirst() {
                guard s.pointee.sweepgen.compareExchange(expected: h &- 2, desired: h &- 1, ordering: .acquiringAndReleasing).exchanged else {
                    CollectedHeap.badSweepgen(s, h)
                }
                if sweepLockedQuiet(s, classIndex: ci, reinsert: false) { continue }      // freed whole
                if s.pointee.allocCount.load(ordering: .relaxed) < s.pointee.nelems { return s }
                classLists[gcListIndex(classIndex: ci, full: true, swept: true, sweepgen: h)].insert(s)
            }
        }
        return nil
    }

    func allocateLarge(_ size: Int, noscan: Bool) throws(HeapError) -> UnsafeMutableRawPointer {
        let pageSize = SizeClasses.pageSize
        let npages = (size + pageSize - 1) / pageSize
        let sc = SpanClass(sizeClass: 0, noscan: noscan)
        guard let s = newSpan(pages: npages, spanClass: sc) else { throw .outOfMemory(requested: size) }
        let index = nextFreeIndexGC(s)
        if _slowPath(index != 0) { FatalMessage("CollectedHeap: new large span had no free object").crash() }
        let ci = sc.index
        let lock = classLock(ci)
        lock.lock()
        s.pointee.sweepgen.store(sweepgen, ordering: .relaxed)
        classLists[gcListIndex(classIndex: ci, full: true, swept: true, sweepgen: sweepgen)].insert(s)
        (classCounters + ci).pointee.spans &+= 1
        (classCounters + ci).pointee.liveObjects &+= 1
        (classCounters + ci).pointee.liveBytes &+= s.pointee.elemSize
        lock.unlock()
        let raw = UnsafeMutableRawPointer(bitPattern: s.pointee.startAddress).unsafelyUnwrapped
        if s.pointee.needzero.load(ordering: .relaxed) { memset(raw, 0, s.pointee.elemSize) }
        return raw
    }

    /// A new span from the page heap with its collector state (Go's
    /// `mheap.alloc`: reclaim first while the sweep is unfinished). No class lock held.
    func newSpan(pages npages: Int, spanClass: SpanClass) -> SpanRef? {
        if !globals.pointee.sweepDone.load(ordering: .relaxed) { _ = reclaim(pages: npages) }
        guard let s = pages.core.allocateSpan(pages: npages, spanClass: spanClass, node: 0) else { return nil }
        let info = allocateInfo()
        let nelems = s.pointee.nelems
        do {
            info.pointee.allocBits.store(UInt(bitPattern: try bits.newAllocBits(nelems).base), ordering: .relaxed)
            info.pointee.markBits.store(UInt(bitPattern: try bits.newMarkBits(nelems).base), ordering: .relaxed)
        } catch {
            FatalMessage("CollectedHeap: cannot map mark bits for a span of ").decimal(nelems).text(" objects").crash()
        }
        info.pointee.specials.store(0, ordering: .relaxed)
        // Before the span is on any list (see GCSpanInfo).
        s.pointee.gcmarkBits = UnsafeMutableRawPointer(info)
        s.pointee.sweepgen.store(sweepgen, ordering: .releasing)
        refillAllocCache(s, word: 0)
        return s
    }

    /// The next free object of span `s` (owner: class lock), or nil when full.
    @inline(__always)
    func nextFree(_ s: SpanRef) -> UInt? {
        if let p = s.pointee.nextFreeFast() { return p }
        let i = nextFreeIndexGC(s)
        if i == s.pointee.nelems { return nil }
        return s.pointee.objectAddress(i)
    }

    @inline(__always)
    func refillAllocCache(_ s: SpanRef, word: Int) {
        let allocs = CollectedHeap.info(s).unsafelyUnwrapped.allocs
        s.pointee.allocCache.store(~allocs.atomicLoadWord(index: word), ordering: .relaxed)
    }

    /// Go's `nextFreeIndex` over the span's GCBits alloc bits (Span's own reads
    /// the record's bitmap, which the collected heap does not use).
    func nextFreeIndexGC(_ s: SpanRef) -> Int {
        let nelems = s.pointee.nelems
        var index = s.pointee.freeindex.load(ordering: .relaxed)
        if index >= nelems { return nelems }
        var bit = s.pointee.allocCache.load(ordering: .relaxed).trailingZeroBitCount
        while bit == 64 {
            index = BitIndex.nextWordStart(index)
            if index >= nelems {
                s.pointee.freeindex.store(nelems, ordering: .releasing)
                return nelems
            }
            refillAllocCache(s, word: BitIndex.word(index))
            bit = s.pointee.allocCache.load(ordering: .relaxed).trailingZeroBitCount
        }
        let result = index &+ bit
        if result >= nelems {
            s.pointee.freeindex.store(nelems, ordering: .releasing)
            return nelems
        }
        s.pointee.allocCache.store(s.pointee.allocCache.load(ordering: .relaxed) >> UInt64(bit &+ 1), ordering: .relaxed)
        let next = result &+ 1
        if BitIndex.startsWord(next) && next != nelems { refillAllocCache(s, word: BitIndex.word(next)) }
        s.pointee.freeindex.store(next, ordering: .releasing)
        s.pointee.allocCount.store(s.pointee.allocCount.load(ordering: .relaxed) &+ 1, ordering: .relaxed)
        return result
    }

    // MARK: Finding and marking objects

    /// The object containing `pointer` (any interior pointer) as its base and
    /// size (the size class's size; a large object's whole span) — Go's
    /// `findObject`, stricter: nil for a pointer outside the heap, into a free
    /// span or its tail, or into a slot that is not allocated. Lock-free, any
    /// thread; exact while no sweep of that span runs, conservative (may still
    /// answer an object the running sweep is freeing) otherwise.
    public func findObject(_ pointer: UnsafeRawPointer) -> (base: UnsafeMutableRawPointer, size: Int)? {
        guard let (span, _, index) = lookup(UInt(bitPattern: pointer)) else { return nil }
        let base = span.pointee.objectAddress(index)
        return (UnsafeMutableRawPointer(bitPattern: base).unsafelyUnwrapped, span.pointee.elemSize)
    }

    @inline(__always)
    func lookup(_ address: UInt) -> (SpanRef, GCSpanInfoRef, Int)? {
        guard let raw = state.pointee.arenas.spanOf(address) else { return nil }
        let span = raw.assumingMemoryBound(to: Span.self)
        guard span.pointee.state.load(ordering: .acquiring) == SpanState.inUse.rawValue,
              let info = CollectedHeap.info(span),
              address >= span.pointee.startAddress, address < span.pointee.limit else { return nil }
        let index = span.pointee.objectIndex(of: address)
        // Allocated: handed out since the last sweep (below freeindex) or live at it.
        if index >= span.pointee.freeindex.load(ordering: .acquiring) && !info.allocs.testAtomic(index) { return nil }
        return (span, info, index)
    }

    /// Marks the object containing `pointer` (any interior pointer): sets its
    /// mark bit and its span's `pageMarks` bit atomically. True when this call
    /// marked it — of racing markers exactly one gets true, so a tracer scans
    /// each object once. False for an already marked object and for a pointer
    /// that is not to an allocated object (as `findObject`). Any number of
    /// threads, during the mark phase (after `finishSweep()`; marking during
    /// the sweep phase stops the process with a message).
    @discardableResult
    public func mark(_ pointer: UnsafeRawPointer) -> Bool {
        if _slowPath(!globals.pointee.sweepDone.load(ordering: .relaxed)) { markDuringSweep(pointer) }
        guard let (span, info, index) = lookup(UInt(bitPattern: pointer)) else { return false }
        if !info.marks.setAtomic(index) { return false }
        let start = span.pointee.startAddress
        if !state.pointee.arenas.isPageMarked(start) { state.pointee.arenas.setPageMark(start) }
        return true
    }

    @inline(never)
    func markDuringSweep(_ pointer: UnsafeRawPointer) -> Never {
        FatalMessage("CollectedHeap: mark(").hex(pointer)
            .text(") during the sweep phase: call finishSweep() (or sweep()) before marking").crash()
    }

    /// Whether the object containing `pointer` is marked in this cycle (false
    /// for a pointer that is not to an allocated object). Lock-free.
    public func isMarked(_ pointer: UnsafeRawPointer) -> Bool {
        guard let (_, info, index) = lookup(UInt(bitPattern: pointer)) else { return false }
        return info.marks.testAtomic(index)
    }

    // MARK: Pools (special lock)

    func allocateInfo() -> GCSpanInfoRef {
        specialLock.lock()
        defer { specialLock.unlock() }
        let g = globals
        if let head = UnsafeMutablePointer<GCSpanInfo>(bitPattern: g.pointee.freeInfos.load(ordering: .relaxed)) {
            g.pointee.freeInfos.store(head.pointee.nextFree.load(ordering: .relaxed), ordering: .relaxed)
            return head
        }
        let size = (MemoryLayout<GCSpanInfo>.stride + 7) & ~7
        var bump = g.pointee.infoBump.load(ordering: .relaxed)
        if bump + UInt(size) > g.pointee.infoEnd.load(ordering: .relaxed) {
            bump = mapPoolChunk(g, "span infos")
            g.pointee.infoEnd.store(bump - 16 + UInt(gcPoolChunkBytes), ordering: .relaxed)
        }
        g.pointee.infoBump.store(bump + UInt(size), ordering: .relaxed)
        let p = UnsafeMutableRawPointer(bitPattern: bump).unsafelyUnwrapped.bindMemory(to: GCSpanInfo.self, capacity: 1)
        p.initialize(to: GCSpanInfo())
        return p
    }

    func freeInfo(_ info: GCSpanInfoRef) {
        specialLock.lock()
        info.pointee.nextFree.store(globals.pointee.freeInfos.load(ordering: .relaxed), ordering: .relaxed)
        globals.pointee.freeInfos.store(UInt(bitPattern: info), ordering: .relaxed)
        specialLock.unlock()
    }

    @usableFromInline @inline(never)
    static func badSweepgen(_ s: SpanRef, _ h: UInt32) -> Never {
        FatalMessage("CollectedHeap: span ").hex(s.pointee.startAddress).text(" on an unswept list has sweepgen ")
            .decimal(Int(s.pointee.sweepgen.load(ordering: .relaxed))).text(", heap sweepgen ").decimal(Int(h)).crash()
    }
}
