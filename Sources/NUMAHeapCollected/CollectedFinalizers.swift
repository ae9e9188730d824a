import GCBits
@_spi(NUMAHeapInternals) import NUMAHeap
import Platform
import SpanCore
import Synchronization

/// Why ``CollectedHeap/setFinalizer(_:_:context:)`` refused.
public enum FinalizerError: Error, Equatable, Sendable, CustomStringConvertible {
    /// The pointer is not the start of an allocated object of this heap (Go:
    /// "runtime.SetFinalizer: pointer not at beginning of allocated block").
    case notAnObject(UInt)
    /// The object already has a finalizer (Go's `addfinalizer` returns false;
    /// SetFinalizer throws "finalizer already set").
    case alreadySet(UInt)

    public var description: String {
        switch self {
        case .notAnObject(let a):
            return "CollectedHeap: setFinalizer: 0x\(String(a, radix: 16)) is not the start of an allocated object"
        case .alreadySet(let a):
            return "CollectedHeap: setFinalizer: object 0x\(String(a, radix: 16)) already has a finalizer"
        }
    }
}

/// A Swift closure finalizer, retained as the context of a C finalizer.
final class FinalizerBox {
    let body: (UnsafeMutableRawPointer) -> Void
    init(_ body: @escaping (UnsafeMutableRawPointer) -> Void) { self.body = body }
}

/// Runs a boxed closure (the C function behind closure finalizers).
let finalizerBoxTrampoline: CollectedHeap.Finalizer = { object, context in
    Unmanaged<FinalizerBox>.fromOpaque(context!).takeUnretainedValue().body(object)
}

// Finalizers (Go's specials, mfinal.go). A finalizer is a C function pointer
// and a context word — plain data in a special record in memory the heap maps,
// so the sweeper handles it without ARC or allocation. A Swift closure is boxed
// once by `setFinalizer(_:_:)` (off the allocation path) and passed as the
// context of a trampoline; the box is released after the finalizer ran or was
// removed.
extension CollectedHeap {
    /// Sets `function(object, context)` to run once, after a sweep finds
    /// `object` unmarked (Go's `SetFinalizer`). That sweep keeps the object —
    /// and nothing else — alive for one more cycle (the runtime should trace
    /// from it meanwhile: see ``forEachFinalizable(_:)``); the finalizer runs
    /// in ``finishSweep()``, ``sweep()`` or ``runFinalizers()`` and may store
    /// the pointer somewhere reachable to resurrect it. If it is still
    /// unmarked at the next sweep it is freed.
    ///
    /// Throws ``FinalizerError/notAnObject(_:)`` unless `object` is the start of
    /// an allocated object, ``FinalizerError/alreadySet(_:)`` when it has one.
    public func setFinalizer(_ object: UnsafeMutableRawPointer, _ function: Finalizer,
                             context: UnsafeMutableRawPointer? = nil) throws(FinalizerError) {
        try addFinalizer(object, function, context, ownsContext: false)
    }

    /// Sets a Swift closure as `object`'s finalizer (see ``setFinalizer(_:_:context:)``).
    /// The closure is boxed here, once.
    public func setFinalizer(_ object: UnsafeMutableRawPointer,
                             _ body: @escaping (UnsafeMutableRawPointer) -> Void) throws(FinalizerError) {
        let box = Unmanaged.passRetained(FinalizerBox(body)).toOpaque()
        do {
            try addFinalizer(object, finalizerBoxTrampoline, box, ownsContext: true)
        } catch {
            Unmanaged<FinalizerBox>.fromOpaque(box).release()
            throw error
        }
    }

    func addFinalizer(_ object: UnsafeMutableRawPointer, _ function: Finalizer, _ context: UnsafeMutableRawPointer?,
                      ownsContext: Bool) throws(FinalizerError) {
        let address = UInt(bitPattern: object)
        guard let (span, info, index) = lookup(address), span.pointee.objectAddress(index) == address else {
            throw .notAnObject(address)
        }
        let offset = Int(address &- span.pointee.startAddress)
        let record = allocateSpecial()
        record.initialize(to: GCSpecial(next: nil, offset: offset, object: 0, function: function,
                                        context: context, ownsContext: ownsContext))
        info.lockSpecials()
        // Sorted by offset (Go's addspecial).
        var prev: UnsafeMutablePointer<GCSpecial>? = nil
        var cur = UnsafeMutablePointer<GCSpecial>(bitPattern: info.pointee.specials.load(ordering: .relaxed))
        while let c = cur, c.pointee.offset < offset { prev = c; cur = c.pointee.next }
        if let c = cur, c.pointee.offset == offset {
            info.unlockSpecials()
            freeSpecial(record)
            throw .alreadySet(address)
        }
        record.pointee.next = cur
        if let prev { prev.pointee.next = record } else {
            info.pointee.specials.store(UInt(bitPattern: record), ordering: .relaxed)
        }
        info.unlockSpecials()
    }

    /// Removes `object`'s finalizer (Go's `removefinalizer`); true when it had
    /// one. A finalizer already queued by a sweep is not removed.
    @discardableResult
    public func removeFinalizer(_ object: UnsafeMutableRawPointer) -> Bool {
        let address = UInt(bitPattern: object)
        guard let (span, info, _) = lookup(address) else { return false }
        let offset = Int(address &- span.pointee.startAddress)
        info.lockSpecials()
        var prev: UnsafeMutablePointer<GCSpecial>? = nil
        var cur = UnsafeMutablePointer<GCSpecial>(bitPattern: info.pointee.specials.load(ordering: .relaxed))
        while let c = cur, c.pointee.offset < offset { prev = c; cur = c.pointee.next }
        guard let found = cur, found.pointee.offset == offset else {
            info.unlockSpecials()
            return false
        }
        if let prev { prev.pointee.next = found.pointee.next } else {
            info.pointee.specials.store(UInt(bitPattern: found.pointee.next), ordering: .relaxed)
        }
        info.unlockSpecials()
        if found.pointee.ownsContext, let ctx = found.pointee.context {
            Unmanaged<FinalizerBox>.fromOpaque(ctx).release()
        }
        freeSpecial(found)
        return true
    }

    /// Runs every queued finalizer on the calling thread, outside every lock
    /// (a finalizer may allocate, set finalizers, or resurrect its object);
    /// returns how many ran. Each runs exactly once.
    @discardableResult
    public func runFinalizers() -> Int {
        var ran = 0
        while true {
            finqLock.lock()
            let head = globals.pointee.finq.exchange(0, ordering: .relaxed)
            finqLock.unlock()
            guard var cur = UnsafeMutablePointer<GCSpecial>(bitPattern: head) else { break }
            while true {
                let next = cur.pointee.next
                let object = UnsafeMutableRawPointer(bitPattern: cur.pointee.object).unsafelyUnwrapped
                cur.pointee.function(object, cur.pointee.context)
                if cur.pointee.ownsContext, let ctx = cur.pointee.context {
                    Unmanaged<FinalizerBox>.fromOpaque(ctx).release()
                }
                freeSpecial(cur)
                ran += 1
                guard let n = next else { break }
                cur = n
            }
        }
        if ran != 0 { globals.pointee.finalizersRun.add(ran, ordering: .relaxed) }
        return ran
    }

    /// Calls `body` with the address of every object that has a finalizer not
    /// yet queued, so the runtime's tracer can mark what such an object
    /// references (but not the object itself), as Go's `markrootSpans` does.
    /// Call it during the mark phase; `body` may call `mark`, `findObject`,
    /// `isMarked`, but not allocate or set finalizers (class and span locks are held).
    public func forEachFinalizable(_ body: (UnsafeMutableRawPointer) -> Void) {
        for ci in 0..<spanClassCount {
            let lock = classLock(ci)
            lock.lock()
            if let s = classCurrent[ci] { forEachSpecial(s, body) }
            for l in 0..<4 {
                var s = classLists[ci << 2 | l].first
                while let span = s { forEachSpecial(span, body); s = span.pointee.next }
            }
            lock.unlock()
        }
    }

    func forEachSpecial(_ s: SpanRef, _ body: (UnsafeMutableRawPointer) -> Void) {
        guard let info = CollectedHeap.info(s), info.pointee.specials.load(ordering: .relaxed) != 0 else { return }
        info.lockSpecials()
        var cur = UnsafeMutablePointer<GCSpecial>(bitPattern: info.pointee.specials.load(ordering: .relaxed))
        while let c = cur {
            body(UnsafeMutableRawPointer(bitPattern: s.pointee.startAddress &+ UInt(c.pointee.offset)).unsafelyUnwrapped)
            cur = c.pointee.next
        }
        info.unlockSpecials()
    }

    /// Finalizer queue lock taken inside the span's lock (sweeper).
    func enqueueFinalizer(_ sp: UnsafeMutablePointer<GCSpecial>) {
        finqLock.lock()
        sp.pointee.next = UnsafeMutablePointer<GCSpecial>(bitPattern: globals.pointee.finq.load(ordering: .relaxed))
        globals.pointee.finq.store(UInt(bitPattern: sp), ordering: .relaxed)
        finqLock.unlock()
    }

    func discardQueuedFinalizers() {
        finqLock.lock()
        var cur = UnsafeMutablePointer<GCSpecial>(bitPattern: globals.pointee.finq.exchange(0, ordering: .relaxed))
        finqLock.unlock()
        while let c = cur {
            if c.pointee.ownsContext, let ctx = c.pointee.context { Unmanaged<FinalizerBox>.fromOpaque(ctx).release() }
            cur = c.pointee.next
        }
    }

    /// Releases the boxes of closure finalizers still set (heap destruction).
    func releaseFinalizerBoxes() {
        forEachSpecialRecord { record in
            if record.pointee.ownsContext, let ctx = record.pointee.context {
                Unmanaged<FinalizerBox>.fromOpaque(ctx).release()
            }
        }
    }

    func forEachSpecialRecord(_ body: (UnsafeMutablePointer<GCSpecial>) -> Void) {
        for ci in 0..<spanClassCount {
            let lock = classLock(ci)
            lock.lock()
            var spans: [SpanRef] = []
            if let s = classCurrent[ci] { spans.append(s) }
            for l in 0..<4 {
                var s = classLists[ci << 2 | l].first
                while let span = s { spans.append(span); s = span.pointee.next }
            }
            for s in spans {
                guard let info = CollectedHeap.info(s) else { continue }
                var cur = UnsafeMutablePointer<GCSpecial>(bitPattern: info.pointee.specials.load(ordering: .relaxed))
                while let c = cur { body(c); cur = c.pointee.next }
            }
            lock.unlock()
        }
    }

    // Special records: a free list and a bump region (special lock).
    func allocateSpecial() -> UnsafeMutablePointer<GCSpecial> {
        specialLock.lock()
        defer { specialLock.unlock() }
        let g = globals
        if let head = UnsafeMutablePointer<GCSpecial>(bitPattern: g.pointee.freeSpecials.load(ordering: .relaxed)) {
            g.pointee.freeSpecials.store(UInt(bitPattern: head.pointee.next), ordering: .relaxed)
            return head
        }
        let size = MemoryLayout<GCSpecial>.stride
        var bump = g.pointee.specialBump.load(ordering: .relaxed)
        if bump + UInt(size) > g.pointee.specialEnd.load(ordering: .relaxed) {
            bump = mapPoolChunk(g, "finalizer records")
            g.pointee.specialEnd.store(bump - 16 + UInt(gcPoolChunkBytes), ordering: .relaxed)
        }
        g.pointee.specialBump.store(bump + UInt(size), ordering: .relaxed)
        return UnsafeMutableRawPointer(bitPattern: bump).unsafelyUnwrapped.bindMemory(to: GCSpecial.self, capacity: 1)
    }

    func freeSpecial(_ sp: UnsafeMutablePointer<GCSpecial>) {
        specialLock.lock()
        sp.pointee.next = UnsafeMutablePointer<GCSpecial>(bitPattern: globals.pointee.freeSpecials.load(ordering: .relaxed))
        globals.pointee.freeSpecials.store(UInt(bitPattern: sp), ordering: .relaxed)
        specialLock.unlock()
    }
}

/// A snapshot of a collected heap's figures (relaxed reads and class locks:
/// exact when no thread allocates or sweeps).
public struct CollectedHeapStatistics: Equatable, Sendable {
    /// Objects allocated and not yet freed by a sweep (garbage not yet swept
    /// included), and their bytes (size-class sizes).
    public var liveObjects = 0
    public var liveBytes = 0
    /// Spans in use by the collected heap.
    public var spans = 0
    /// Cumulative: spans swept, spans freed whole, objects and bytes freed.
    public var sweptSpans = 0
    public var freedSpans = 0
    public var freedObjects = 0
    public var freedBytes = 0
    /// Cumulative pages freed by the page reclaimer.
    public var reclaimedPages = 0
    /// Cumulative finalizers queued by sweeps and run.
    public var finalizersQueued = 0
    public var finalizersRun = 0
    /// Cycles begun (`beginCycle`/`sweep`).
    public var cycles = 0
    /// The heap's sweepgen and whether this cycle's sweep is finished.
    public var sweepgen: UInt32 = 0
    public var sweepDone = true
}

extension CollectedHeap {
    public var statistics: CollectedHeapStatistics {
        var st = CollectedHeapStatistics()
        for ci in 0..<spanClassCount {
            let lock = classLock(ci)
            lock.lock()
            st.liveObjects += classCounters[ci].liveObjects
            st.liveBytes += classCounters[ci].liveBytes
            st.spans += classCounters[ci].spans
            lock.unlock()
        }
        let g = globals
        st.sweptSpans = g.pointee.sweptSpans.load(ordering: .relaxed)
        st.freedSpans = g.pointee.freedSpans.load(ordering: .relaxed)
        st.freedObjects = g.pointee.freedObjects.load(ordering: .relaxed)
        st.freedBytes = g.pointee.freedBytes.load(ordering: .relaxed)
        st.reclaimedPages = g.pointee.reclaimedPages.load(ordering: .relaxed)
        st.finalizersQueued = g.pointee.finalizersQueued.load(ordering: .relaxed)
        st.finalizersRun = g.pointee.finalizersRun.load(ordering: .relaxed)
        st.cycles = g.pointee.cycles.load(ordering: .relaxed)
        st.sweepgen = g.pointee.sweepgen.load(ordering: .relaxed)
        st.sweepDone = g.pointee.sweepDone.load(ordering: .relaxed)
        return st
    }
}
