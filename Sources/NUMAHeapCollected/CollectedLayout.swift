import GCBits
import Glibc
@_spi(NUMAHeapInternals) import NUMAHeap
import Platform
import SpanCore
import Synchronization

// The collected heap's metadata, all in memory it maps itself (no Swift
// objects on any allocation or sweep path). See Docs/CollectedHeap.md.

/// Per-span collector state, out of line from the ``Span`` record (Go keeps
/// these in `mspan`: `gcmarkBits`, `allocBits`, `speciallock`, `specials`).
///
/// `Span.gcmarkBits` holds the address of the span's `GCSpanInfo`: written once,
/// before the span is put on any list of the collected heap, and never changed
/// while the span is in use. Every field that changes afterwards lives here, as
/// an atomic, so no thread ever writes a field of the shared `Span` struct
/// after publication (see Docs/Heap.md, "Concurrency and the sanitizers").
struct GCSpanInfo: ~Copyable {
    /// Base of the span's mark bits (a `GCBits` from `newMarkBits`). Written by
    /// the sweeper of the span (release) while no marker runs; read (acquire)
    /// by `mark`, `isMarked`, and the sweeper.
    let markBits: Atomic<UInt>
    /// Base of the span's alloc bits (a `GCBits`: `newAllocBits` for a new span,
    /// the previous mark bits after each sweep). Written by the sweeper
    /// (release) before it resets `freeindex`; read by the allocator (owner,
    /// under the class lock) and by `findObject` (acquire).
    let allocBits: Atomic<UInt>
    /// The span's lock (Go's `mspan.speciallock`): a spin word, 0 = free.
    /// Protects `specials`. Leaf lock except for the finalizer queue's lock,
    /// which the sweeper takes inside it.
    let specialsLock: Atomic<UInt>
    /// Head of the span's specials list (`GCSpecial`), sorted by offset.
    /// Read and written only under `specialsLock` (relaxed atomics).
    let specials: Atomic<UInt>
    /// Link in the info pool's free list (pool lock).
    let nextFree: Atomic<UInt>

    init() {
        markBits = Atomic(0); allocBits = Atomic(0); specialsLock = Atomic(0)
        specials = Atomic(0); nextFree = Atomic(0)
    }
}

typealias GCSpanInfoRef = UnsafeMutablePointer<GCSpanInfo>

extension GCSpanInfoRef {
    @inline(__always) var marks: GCBits { GCBits(UnsafeMutableRawPointer(bitPattern: pointee.markBits.load(ordering: .acquiring))!) }
    @inline(__always) var allocs: GCBits { GCBits(UnsafeMutableRawPointer(bitPattern: pointee.allocBits.load(ordering: .acquiring))!) }

    @inline(__always) func lockSpecials() {
        var spins = 0
        while !pointee.specialsLock.compareExchange(expected: 0, desired: 1, ordering: .acquiring).exchanged {
            spins += 1
            if spins > 64 { sched_yield(); spins = 0 }
        }
    }

    @inline(__always) func unlockSpecials() { pointee.specialsLock.store(0, ordering: .releasing) }
}

/// A finalizer special (Go's `specialfinalizer`). On a span's specials list
/// (span lock) it records a finalizer for the object at `offset`; once the
/// sweeper finds that object unmarked it moves to the finalizer queue
/// (queue lock) with `object` set, and is freed after the finalizer ran.
struct GCSpecial {
    var next: UnsafeMutablePointer<GCSpecial>?
    /// Byte offset of the object from the span's start.
    var offset: Int
    /// The object's address, set when queued.
    var object: UInt
    var function: CollectedHeap.Finalizer
    var context: UnsafeMutableRawPointer?
    /// True when `context` is a retained `FinalizerBox` (closure finalizers).
    var ownsContext: Bool
}

/// The heap's global collector state (Go's `mheap_.sweepgen`, `sweepdone`,
/// `reclaimIndex`, `reclaimCredit`, `finq`, the per-cycle counters). Mapped
/// once; every mutable field is an atomic or is named with its lock.
struct GCGlobals: ~Copyable {
    /// Go's `mheap_.sweepgen` (h). Written only by `beginCycle` (with the cycle
    /// lock, no allocation or sweep running: a stop-the-world point); read by all.
    let sweepgen: Atomic<UInt32>
    /// Go's `sweepdone`: true once every span has been swept in this cycle
    /// (`finishSweep`). Written under the cycle lock.
    let sweepDone: Atomic<Bool>
    /// The sweepgen at which the GCBits epoch and `pageMarks` were last reset
    /// (cycle lock), so each happens once per cycle.
    let epochGen: Atomic<UInt32>
    /// Next reclaimer chunk (Go's `reclaimIndex`): arena × chunks-per-arena + chunk.
    let reclaimIndex: Atomic<Int>
    /// Pages freed by the reclaimer beyond what its callers asked for (Go's `reclaimCredit`).
    let reclaimCredit: Atomic<Int>
    /// Class to start the next `sweep(budget:)` from.
    let sweepCursor: Atomic<Int>
    /// Finalizer queue head (Go's `finq`), under the finalizer-queue lock.
    let finq: Atomic<UInt>
    /// Free special records (special lock), bump region of the special pool.
    let freeSpecials: Atomic<UInt>
    let specialBump: Atomic<UInt>
    let specialEnd: Atomic<UInt>
    /// Free span infos and their bump region (special lock).
    let freeInfos: Atomic<UInt>
    let infoBump: Atomic<UInt>
    let infoEnd: Atomic<UInt>
    /// The pools' 64 KiB chunks, linked through their first word (special lock),
    /// unmapped when the heap is destroyed.
    let chunks: Atomic<UInt>

    // Cumulative statistics (relaxed atomics; exact when the heap is quiet).
    let cycles: Atomic<Int>
    let sweptSpans: Atomic<Int>
    let freedSpans: Atomic<Int>
    let freedObjects: Atomic<Int>
    let freedBytes: Atomic<Int>
    let reclaimedPages: Atomic<Int>
    let finalizersQueued: Atomic<Int>
    let finalizersRun: Atomic<Int>
    // The same, for the current cycle (reset by `beginCycle`).
    let cycleSweptSpans: Atomic<Int>
    let cycleFreedSpans: Atomic<Int>
    let cycleFreedObjects: Atomic<Int>
    let cycleFreedBytes: Atomic<Int>
    let cycleReclaimedPages: Atomic<Int>
    let cycleFinalizersQueued: Atomic<Int>

    init(sweepgen h: UInt32) {
        sweepgen = Atomic(h); sweepDone = Atomic(true); epochGen = Atomic(h)
        reclaimIndex = Atomic(0); reclaimCredit = Atomic(0); sweepCursor = Atomic(0)
        finq = Atomic(0); freeSpecials = Atomic(0); specialBump = Atomic(0); specialEnd = Atomic(0)
        freeInfos = Atomic(0); infoBump = Atomic(0); infoEnd = Atomic(0); chunks = Atomic(0)
        cycles = Atomic(0); sweptSpans = Atomic(0); freedSpans = Atomic(0); freedObjects = Atomic(0)
        freedBytes = Atomic(0); reclaimedPages = Atomic(0); finalizersQueued = Atomic(0); finalizersRun = Atomic(0)
        cycleSweptSpans = Atomic(0); cycleFreedSpans = Atomic(0); cycleFreedObjects = Atomic(0)
        cycleFreedBytes = Atomic(0); cycleReclaimedPages = Atomic(0); cycleFinalizersQueued = Atomic(0)
    }
}

/// Per span class counters (class lock).
struct GCClassCounters {
    var liveObjects = 0
    var liveBytes = 0
    var spans = 0
}

/// Which of a class's four lists. Spans are on the `swept` or `unswept` set
/// by sweepgen parity, as Go 1.15's `mcentral.partial/full[sweepgen/2%2]`:
/// advancing sweepgen by 2 turns the swept set into the unswept set at once.
@inline(__always)
func gcListIndex(classIndex: Int, full: Bool, swept: Bool, sweepgen h: UInt32) -> Int {
    let parity = Int((h >> 1) & 1) ^ (swept ? 0 : 1)
    return classIndex << 2 | (full ? 2 : 0) | parity
}

/// Bytes of each pool chunk; its first 16 bytes link the chunks.
let gcPoolChunkBytes = 64 << 10

/// Maps a pool chunk and links it onto `globals.chunks` (special lock held);
/// returns where its usable bytes start.
func mapPoolChunk(_ globals: UnsafeMutablePointer<GCGlobals>, _ what: StaticString) -> UInt {
    guard case .success(let p) = SystemMemory.mapAnonymous(bytes: gcPoolChunkBytes) else {
        FatalMessage("CollectedHeap: cannot map ").decimal(gcPoolChunkBytes).text(" bytes for ").text(what).crash()
    }
    p.storeBytes(of: globals.pointee.chunks.load(ordering: .relaxed), as: UInt.self)
    globals.pointee.chunks.store(UInt(bitPattern: p), ordering: .relaxed)
    return UInt(bitPattern: p) + 16
}
