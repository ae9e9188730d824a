import Glibc
import NUMAHeap
import NUMAHeapCollected
import Testing

/// What the C finalizer below records: calls, and the first word of the object it saw.
struct FinalizerLog {
    var calls = 0
    var seen: UInt64 = 0
    var object: UnsafeMutableRawPointer? = nil
}

let recordingFinalizer: CollectedHeap.Finalizer = { object, context in
    let log = context!.assumingMemoryBound(to: FinalizerLog.self)
    log.pointee.calls += 1
    log.pointee.seen = object.load(as: UInt64.self)
    log.pointee.object = object
}

@Suite struct CollectedFinalizerTests {
    @Test func finalizerRunsOnceSeesTheObjectAndTheObjectIsFreedNextCycle() throws {
        let heap = try CollectedHeap()
        let log = UnsafeMutablePointer<FinalizerLog>.allocate(capacity: 1)
        log.initialize(to: FinalizerLog())
        defer { log.deallocate() }
        let o = try heap.allocate(byteCount: 64)
        o.storeBytes(of: 0xC0FFEE, as: UInt64.self)
        try heap.setFinalizer(o, recordingFinalizer, context: UnsafeMutableRawPointer(log))
        // Marked: nothing happens.
        heap.mark(o)
        #expect(heap.sweep().finalizersQueued == 0)
        #expect(log.pointee.calls == 0)
        // Unmarked: the finalizer runs once and sees the contents; the object is kept.
        let r = heap.sweep()
        #expect(r.finalizersQueued == 1 && r.finalizersRun == 1 && r.freedObjects == 0)
        #expect(log.pointee.calls == 1 && log.pointee.seen == 0xC0FFEE && log.pointee.object == o)
        #expect(heap.findObject(o)?.base == o)
        // Next cycle, still unmarked: freed, and the finalizer does not run again.
        let r2 = heap.sweep()
        #expect(r2.freedObjects == 1 && r2.finalizersRun == 0)
        #expect(log.pointee.calls == 1)
        #expect(heap.findObject(o) == nil)
        let st = heap.statistics
        #expect(st.finalizersRun == 1 && st.finalizersQueued == 1)
    }

    @Test func oneFinalizerPerObjectAndOnlyOnObjectStarts() throws {
        let heap = try CollectedHeap()
        let o = try heap.allocate(byteCount: 48)
        try heap.setFinalizer(o) { _ in }
        #expect(throws: FinalizerError.alreadySet(UInt(bitPattern: o))) { try heap.setFinalizer(o) { _ in } }
        #expect(throws: FinalizerError.notAnObject(UInt(bitPattern: o + 8))) { try heap.setFinalizer(o + 8) { _ in } }
        let foreign = malloc(16)!
        defer { free(foreign) }
        #expect(throws: FinalizerError.notAnObject(UInt(bitPattern: foreign))) {
            try heap.setFinalizer(foreign, recordingFinalizer)
        }
        #expect(FinalizerError.alreadySet(0x10).description.contains("0x10 already has a finalizer"))
        #expect(heap.removeFinalizer(o))
        #expect(!heap.removeFinalizer(o))
        try heap.setFinalizer(o) { _ in }          // allowed again after removal
    }

    @Test func removedFinalizerNeverRuns() throws {
        let heap = try CollectedHeap()
        var ran = 0
        let o = try heap.allocate(byteCount: 100)
        try heap.setFinalizer(o) { _ in ran += 1 }
        #expect(heap.removeFinalizer(o))
        #expect(heap.sweep().freedObjects == 1)
        #expect(ran == 0)
    }

    /// Many objects with closure finalizers, in sorted and unsorted offsets of
    /// the same spans; half stay reachable. Each unreachable one's finalizer
    /// runs exactly once with its own contents; then it is freed.
    @Test func manyFinalizersRunExactlyOnce() throws {
        let heap = try CollectedHeap()
        var objects: [UnsafeMutableRawPointer] = []
        for i in 0..<600 {
            let o = try heap.allocate(byteCount: 32)
            o.storeBytes(of: UInt64(i), as: UInt64.self)
            objects.append(o)
        }
        var seen = [Int](repeating: 0, count: 600)
        for i in stride(from: 599, through: 0, by: -1) {          // reverse order: sorted insert
            try heap.setFinalizer(objects[i]) { base in seen[Int(base.load(as: UInt64.self))] += 1 }
        }
        for (i, o) in objects.enumerated() where i % 2 == 0 { heap.mark(o) }
        let r = heap.sweep()
        #expect(r.finalizersQueued == 300 && r.finalizersRun == 300 && r.freedObjects == 0)
        for i in 0..<600 { #expect(seen[i] == (i % 2 == 0 ? 0 : 1)) }
        for (i, o) in objects.enumerated() where i % 2 == 0 { heap.mark(o) }
        let r2 = heap.sweep()
        #expect(r2.freedObjects == 300 && r2.finalizersRun == 0)
        let r3 = heap.sweep()
        #expect(r3.finalizersRun == 300 && r3.freedObjects == 0)
        #expect(heap.sweep().freedObjects == 300)
        #expect(seen.allSatisfy { $0 == 1 })
    }

    /// A finalizer can resurrect its object by storing it in a root; what the
    /// object references stays alive through forEachFinalizable tracing.
    @Test func resurrectionAndReferencedObjects() throws {
        let heap = try CollectedHeap()
        let rt = ToyRuntime(heap: heap)
        let parent = try rt.newNode()
        let child = try rt.newNode()
        rt.link(parent, to: child)
        var resurrected: [UnsafeMutableRawPointer] = []
        try heap.setFinalizer(parent) { base in
            // The child is still intact when the finalizer runs.
            let c = rt.children(of: base)[0]
            #expect(c.toyNode.pointee.pattern == ToyNode.pattern(of: c.toyNode.pointee.id))
            resurrected.append(base)
        }
        let r = rt.collect()                        // no roots: parent queued, child kept by tracing
        #expect(r.finalizersRun == 1 && r.freedObjects == 0)
        #expect(resurrected == [parent])
        rt.roots = resurrected
        #expect(rt.collect().freedObjects == 0)     // resurrected, and its child with it
        rt.roots = []
        #expect(rt.collect().freedObjects == 2)
    }
}

/// The two cycles of the module's getting-started article, as it prints them.
@Suite struct CollectedGettingStartedTests {
    @Test func anUnmarkedObjectWithAFinalizerIsFinalizedThenFreedTheNextCycle() throws {
        final class Runs: @unchecked Sendable { var count = 0 }
        let runs = Runs()
        let gc = try CollectedHeap()
        let root = try gc.allocate(byteCount: 48)
        let garbage = try gc.allocate(byteCount: 48, noscan: true)
        try gc.setFinalizer(garbage) { _ in runs.count += 1 }
        gc.mark(root)
        let first = gc.sweep()
        #expect(first.freedObjects == 0 && runs.count == 1, "first cycle: freed \(first.freedObjects), finalizer ran \(runs.count)×")
        gc.mark(root)
        let second = gc.sweep()
        #expect(second.freedObjects == 1 && runs.count == 1, "second cycle: freed \(second.freedObjects), finalizer ran \(runs.count)×")
        #expect(gc.statistics.liveObjects == 1)
    }
}
