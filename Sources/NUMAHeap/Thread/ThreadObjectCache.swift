import ArenaMap
import Central
import Glibc
import Platform
import SpanCore

/// The two per-heap random keys of the bins (``ThreadObjectCache``): the
/// link is stored XORed with `link`; the free mark is the first word XORed
/// with `seal`. Both odd. Read together from ``HeapState/objectKey``.
struct FreeListKeys {
    let link: UInt
    let seal: UInt
}

/// Each thread's bins of freed small blocks, one per size class, in front of
/// the spans (TCMalloc's per-thread free lists, glibc's tcache): a free pushes
/// the block on the calling thread's bin, an allocation of the class pops it.
///
/// Why: a free by the span's bitmaps costs a span-bit update, and, when the
/// span has gone back to its central list or belongs to another thread, an
/// atomic read-modify-write and sometimes the central lock; an allocation
/// costs the `allocCache` walk and a sweep every span. A bin makes the common
/// allocate/free churn of one thread two pointer moves, whoever owns the span.
///
/// ## Invariants
/// - A binned block is *allocated* as far as its span knows (its alloc bit or
///   `freeindex` says so, no free bit is set): a span with binned blocks is
///   never retired and never hands them out itself. Only the bin's thread pops
///   it, so it is handed out exactly once.
/// - A freed block of a binned class carries the heap's *free mark*: its
///   second word is its first word sealed with the heap's
///   ``HeapState/objectKey`` (``seal(_:key:)``). A push writes it (the first
///   word is the bin's link, encoded with the key), a spill to the span keeps
///   it, and only handing the block out clears it: a pop from a bin, and
///   every allocation from a span (``clearMark(_:sizeClass:)``). So a free
///   that finds the mark is a second free of a block freed before — in some
///   thread's bin or back in its span — whichever thread freed it, with no
///   lookup; its only miss is a program that wrote over the block's first 16
///   bytes after freeing it (the `.full` tier bins nothing, and its span's
///   bits are exact). A live block carries the mark only if the program
///   copied both words out of a freed block: the key is random per heap.
/// - **Free-list integrity.** A bin's links are never used as written: a pop
///   checks the mark of the block it takes before it follows that block's
///   link, and stops the process (`corrupted free list at 0x…`) when a
///   program wrote over it after freeing it — a use-after-free write never
///   makes the heap hand out, or write through, a value the program chose.
///   The link is stored XORed with the key, so reading a freed block does not
///   show a heap address.
/// - A block enters a bin through the fast free after the standard tier's
///   checks (span in use, object base, below `nelems`, no mark), through
///   the slow free after the span's bits too (allocated, no remote-free bit,
///   no local-free bit when the calling thread owns the span — only the
///   owner reads or writes those). Every freed block of a binned class
///   carries the mark — binned, spilled, or sent home from another node —
///   so the fast free's mark check sees a second free wherever the first
///   left the block.
/// - Only blocks of spans on a node in the cache's ``ThreadCache/objectNodes``
///   enter its bins — the node it allocates from (any node under
///   `.interleave`) — so a cross-node free still sends the block home.
/// - A full bin returns half its blocks to their spans — the local free bits
///   of spans the thread owns, the remote-free protocol for the rest; the thread's exit,
///   ``Heap/flushThreadCache()``, ``Heap/releaseFreeMemory()`` and a move to
///   another node return all of them.
///
/// Size: a bin starts at ``binBytes`` and ``maxObjects`` blocks (32 KiB,
/// 128, at least one) — 1.68 MiB across all 65 binned classes of the default
/// table (the sum of `min(128, max(1, 32 KiB / size)) × size`). A bin that
/// fills doubles its limit instead of spilling, up to ``grownBytes`` and
/// ``grownObjects`` (256 KiB, 1024 blocks), while the thread's
/// ``ThreadCache/binGrowthBudget`` lasts (``growthBudgetBytes``, 4 MiB of
/// limit × size over the starting limits), as TCMalloc's per-class
/// `max_length` grows within a thread's cache budget: a thread that frees
/// many blocks of a class before it allocates them again (a batch freed in
/// random order, medium blocks whose starting bin holds 1–8) stops paying a
/// spill through the spans every few frees. So a thread holds at most
/// 5.68 MiB of freed blocks. Emptying every bin — exit, flush,
/// `releaseFreeMemory`, a node move, the malloc library's idle trim — puts
/// the starting limits and the budget back. The 8-byte class is never binned:
/// it has no room for the mark.
enum ThreadObjectCache {
    /// Bytes of blocks one bin may hold at first.
    static var binBytes: Int { 32 << 10 }
    /// Blocks one bin may hold at first.
    static var maxObjects: Int { 128 }
    /// Bytes of blocks a grown bin may hold.
    static var grownBytes: Int { 256 << 10 }
    /// Blocks a grown bin may hold.
    static var grownObjects: Int { 1024 }
    /// A thread's budget for growing its bins: bytes of limit × size above
    /// the starting limits, over all classes.
    static var growthBudgetBytes: Int { 4 << 20 }

    /// The most a bin of `size`-byte blocks whose starting limit is `limit`
    /// may grow to (`limit` itself when it cannot grow).
    static func grownLimit(size: Int, limit: Int) -> Int {
        limit == 0 ? 0 : max(limit, min(grownObjects, grownBytes / size))
    }

    /// The bin limit of `sizeClass`: 0 for classes under 16 bytes, and for
    /// every class under the `.full` tier (bins would hide a block's state
    /// from its span's bits, which answer exactly).
    static func limit(sizeClass: Int, checks: HeapConfiguration.Checks) -> Int {
        let size = SizeClasses.size(ofClass: sizeClass)
        if size < 16 || checks == .full { return 0 }
        return max(1, min(maxObjects, binBytes / size))
    }

    /// The nodes whose blocks a cache allocating from `node` may bin.
    static func objectNodes(_ state: UnsafeMutablePointer<HeapState>, node: Int32) -> UInt64 {
        state.pointee.placement.selection == .interleave ? ~0 : nodeBit(node)
    }

    /// `node`'s bit in a node set such as ``ThreadCache/objectNodes``. A heap
    /// has at most ``NodePlacement/maximumNodeCount`` (64) nodes, so the mask
    /// only spares the shift its overflow check.
    @inline(__always)
    static func nodeBit(_ node: Int32) -> UInt64 { 1 << UInt64(node & Int32(NodePlacement.maximumNodeCount - 1)) }

    /// True when `cache` may bin blocks of spans on `node` (the NUMA rule above).
    @inline(__always)
    static func binsObjects(ofNode node: Int32, cache: UnsafeMutablePointer<ThreadCache>) -> Bool {
        cache.pointee.objectNodes & nodeBit(node) != 0
    }

    /// A heap's random keys: the kernel's AT_RANDOM bytes (``ProcessRandom``), the clock and
    /// `salt` mixed by splitmix64.
    static func makeKeys(salt: UInt) -> FreeListKeys {
        var now = timespec()
        clock_gettime(CLOCK_MONOTONIC, &now)
        var mix = SplitMix64(seed: UInt64(salt) ^ ProcessRandom.seed ^ UInt64(truncatingIfNeeded: now.tv_nsec))
        let link = UInt(mix.next()) | 1
        return FreeListKeys(link: link, seal: UInt(mix.next()) | 1)
    }

    /// Nil when the block at `address`, object `index` of `span`, may enter a
    /// bin: allocated, not freed through the span, not freed before (the mark).
    @inline(__always)
    static func refusal(_ span: SpanRef, _ index: Int, _ address: UInt, key: FreeListKeys,
                        cache: UnsafeMutablePointer<ThreadCache>) -> FreeRefusal? {
        if let refusal = spanRefusal(span, index, cache: cache) { return refusal }
        if _slowPath(isMarkedFree(address, key: key)) { return .alreadyFreed }
        return nil
    }

    /// What the span's bits say against freeing object `index` now: not
    /// allocated (neither below `freeindex` nor its alloc bit), or already
    /// freed (its remote-free bit, or its local-free bit when `cache` owns the
    /// span — only the owner may read those). Nil when neither.
    @inline(__always)
    static func spanRefusal(_ span: SpanRef, _ index: Int, cache: UnsafeMutablePointer<ThreadCache>) -> FreeRefusal? {
        let w = BitIndex.word(index)
        let mask = BitIndex.mask(index)
        // freeindex first (acquire), then the bits: the remote-free ordering.
        if _slowPath(index >= span.pointee.freeindex.load(ordering: .acquiring)
                        && span.pointee.allocBits[w].load(ordering: .relaxed) & mask == 0) {
            return .notAllocated
        }
        if _slowPath(span.pointee.remoteFreeBits[w].load(ordering: .relaxed) & mask != 0) { return .alreadyFreed }
        if span.pointee.owner.load(ordering: .relaxed) == UInt(bitPattern: cache)
            && _slowPath(span.pointee.localFreeBits[w] & mask != 0) {
            return .alreadyFreed
        }
        return nil
    }

    /// The second word of a freed block whose first word is `first`: `first`
    /// XORed with the seal key (not the link's key, so neither word alone,
    /// nor the two together, show the link's key).
    @inline(__always)
    static func seal(_ first: UInt, key: FreeListKeys) -> UInt {
        first ^ key.seal
    }

    /// True when the block at `address` (of a class of at least 16 bytes)
    /// carries the free mark: it was freed and not handed out since.
    @inline(__always)
    static func isMarkedFree(_ address: UInt, key: FreeListKeys) -> Bool {
        #if NUMAHEAP_UNCHECKED
        return false
        #else
        let block = UnsafePointer<UInt>(bitPattern: address).unsafelyUnwrapped
        return block[1] == seal(block[0], key: key)
        #endif
    }

    /// Marks a block freed through its span, not a bin (the link word is
    /// whatever it holds; the mark binds it).
    @inline(__always)
    static func setMark(_ address: UInt, key: FreeListKeys) {
        #if !NUMAHEAP_UNCHECKED
        let block = UnsafeMutablePointer<UInt>(bitPattern: address).unsafelyUnwrapped
        block[1] = seal(block[0], key: key)
        #endif
    }

    /// Clears the free mark of a block a span hands out (classes of at least
    /// 16 bytes; the 8-byte class, class 1, has no second word and is never binned).
    @inline(__always)
    static func clearMark(_ address: UInt, sizeClass: Int) {
        #if !NUMAHEAP_UNCHECKED
        if sizeClass != 1 { UnsafeMutablePointer<UInt>(bitPattern: address).unsafelyUnwrapped[1] = 0 }
        #endif
    }

    /// Pushes a checked block on its bin: the link encoded, the mark sealed.
    @inline(__always)
    static func push(_ bin: UnsafeMutablePointer<FreeObjectBin>, _ address: UInt, key: FreeListKeys) {
        let block = UnsafeMutablePointer<UInt>(bitPattern: address).unsafelyUnwrapped
        #if NUMAHEAP_UNCHECKED
        block[0] = bin.pointee.head
        #else
        let first = bin.pointee.head ^ key.link
        block[0] = first
        block[1] = seal(first, key: key)
        #endif
        bin.pointee.head = address
        bin.pointee.count &+= 1
    }

    /// The bin's first block when it may be taken: nil when the bin is empty
    /// or the block's mark is broken (a caller that cannot stop the process
    /// — the leaf fast path — leaves the block to one that can).
    @inline(__always)
    static func peek(_ bin: UnsafeMutablePointer<FreeObjectBin>, key: FreeListKeys) -> UnsafeMutablePointer<UInt>? {
        guard let block = UnsafeMutablePointer<UInt>(bitPattern: bin.pointee.head) else { return nil }
        #if !NUMAHEAP_UNCHECKED
        guard _fastPath(block[1] == seal(block[0], key: key)) else { return nil }
        #endif
        return block
    }

    /// Unlinks `block`, the bin's first block as ``peek(_:key:)`` answered it;
    /// `clearingMark`: it is being handed out (a spill to the span keeps the mark).
    @inline(__always)
    static func unlink(_ bin: UnsafeMutablePointer<FreeObjectBin>, _ block: UnsafeMutablePointer<UInt>,
                       key: FreeListKeys, clearingMark: Bool) {
        #if NUMAHEAP_UNCHECKED
        bin.pointee.head = block[0]
        #else
        bin.pointee.head = block[0] ^ key.link
        if clearingMark { block[1] = 0 }
        #endif
        bin.pointee.count &-= 1
    }

    /// Pops the most recently freed block of the bin to return it to its span
    /// (a spill): its link checked, its mark kept; nil when the bin is empty.
    @inline(__always)
    static func popForSpan(_ bin: UnsafeMutablePointer<FreeObjectBin>, key: FreeListKeys) -> UnsafeMutableRawPointer? {
        if bin.pointee.head == 0 { return nil }
        guard let block = peek(bin, key: key) else { corruptedFreeList(bin.pointee.head) }
        unlink(bin, block, key: key, clearingMark: false)
        return UnsafeMutableRawPointer(block)
    }

    /// A bin's block whose mark a program broke after freeing it.
    @inline(never)
    static func corruptedFreeList(_ address: UInt) -> Never {
        FatalMessage("NUMAHeap: corrupted free list at ").hex(address)
            .text(": the freed block's first 16 bytes were written after its free (use after free)").crash()
    }
}

extension HeapCore {
    /// A free that does not go on a bin as it is: the class is never binned,
    /// the block's node is not the cache's, or the bin is full.
    @inline(never)
    func freeUnbinned(_ span: SpanRef, index: Int, address: UInt, cache: UnsafeMutablePointer<ThreadCache>,
                      bin: UnsafeMutablePointer<FreeObjectBin>) {
        if bin.pointee.limit == 0 {
            freeThroughSpan(span, index: index, address: address, cache: cache)  // The 8-byte class.
            return
        }
        let key = state.pointee.objectKey
        if !ThreadObjectCache.binsObjects(ofNode: span.pointee.node, cache: cache) {
            // Another node's block goes home — checked like a binned one (a
            // thread of its node may have binned it: the mark) and marked
            // before its remote-free bit is published, since a second free
            // on the fast path reads no span bits, only the mark.
            if let refusal = ThreadObjectCache.refusal(span, index, address, key: key, cache: cache) {
                HeapCore.refused(refusal, address, span, "deallocate")
            }
            ThreadObjectCache.setMark(address, key: key)
            freeRemote(span, index: index, address: address)
            return
        }
        if let refusal = ThreadObjectCache.refusal(span, index, address, key: key, cache: cache) {
            HeapCore.refused(refusal, address, span, "deallocate")
        }
        if !growBin(bin, sizeClass: Int(span.pointee.spanClass.sizeClass), cache: cache) {
            returnObjects(bin, keeping: Int(bin.pointee.limit) / 2, cache: cache)
        }
        ThreadObjectCache.push(bin, address, key: key)
    }

    /// Doubles the limit of the full `bin` of `sizeClass` when its cap
    /// (``ThreadObjectCache/grownLimit(size:limit:)``) and the thread's
    /// budget allow, spending the budget; true when it did (the bin has room).
    func growBin(_ bin: UnsafeMutablePointer<FreeObjectBin>, sizeClass: Int, cache: UnsafeMutablePointer<ThreadCache>) -> Bool {
        let limit = Int(bin.pointee.limit)
        let size = SizeClasses.size(ofClass: sizeClass)
        let cap = ThreadObjectCache.grownLimit(size: size, limit: Int(state.pointee.objectLimits[sizeClass]))
        let target = min(2 * limit, cap)
        guard target > limit else { return false }
        let budget = cache.pointee.binGrowthBudget
        let left = budget.pointee.load(ordering: .relaxed), cost = (target - limit) * size
        guard cost <= left else { return false }
        budget.pointee.store(left - cost, ordering: .relaxed)
        bin.pointee.limit = Int32(target)
        return true
    }

    /// Returns blocks of `bin` to their spans until `keeping` are left: into
    /// the local free bits of a span `cache` owns (no atomic), else through
    /// the remote-free protocol.
    /// `holdingClaim`: the caller holds `cache`'s ``ThreadHeldMemory`` claim,
    /// so a span these frees empty goes straight to its node's page heap
    /// rather than into the cache's stash (which would take the claim again).
    func returnObjects(_ bin: UnsafeMutablePointer<FreeObjectBin>, keeping: Int, cache: UnsafeMutablePointer<ThreadCache>,
                       holdingClaim: Bool = false) {
        let key = state.pointee.objectKey
        while Int(bin.pointee.count) > keeping, let block = ThreadObjectCache.popForSpan(bin, key: key) {
            let address = UInt(bitPattern: block)
            guard let raw = state.pointee.arenas.spanOf(address) else { HeapCore.notOurs(address, "deallocate") }
            let span = raw.assumingMemoryBound(to: Span.self)
            freeThroughSpan(span, index: span.pointee.objectIndex(of: address), address: address, cache: cache,
                            holdingClaim: holdingClaim)
        }
    }

    /// Frees object `index` of `span` in the span's bits: the local free bits
    /// when `cache` owns the span (no atomic), else the remote-free protocol.
    func freeThroughSpan(_ span: SpanRef, index: Int, address: UInt, cache: UnsafeMutablePointer<ThreadCache>,
                         holdingClaim: Bool = false) {
        if span.pointee.owner.load(ordering: .relaxed) == UInt(bitPattern: cache) {
            if let refusal = span.pointee.freeLocal(index) { HeapCore.refused(refusal, address, span, "deallocate") }
        } else {
            freeRemote(span, index: index, address: address, cache: holdingClaim ? nil : cache)
        }
    }

    /// Returns every binned block of `cache` to its span (see ``returnObjects(_:keeping:cache:holdingClaim:)``).
    func returnAllObjects(_ cache: UnsafeMutablePointer<ThreadCache>, holdingClaim: Bool = false) {
        let bins = ThreadCache.bins(cache)
        for c in 1..<state.pointee.sizeClassCount where bins[c].count > 0 {
            returnObjects(bins + c, keeping: 0, cache: cache, holdingClaim: holdingClaim)
        }
        // The bins are empty: back to the starting limits and a full budget.
        for c in 1..<state.pointee.sizeClassCount { bins[c].limit = state.pointee.objectLimits[c] }
        cache.pointee.binGrowthBudget.pointee.store(ThreadObjectCache.growthBudgetBytes, ordering: .relaxed)
    }

    /// Zeroes a block popped from a bin (a freed block always holds old data).
    @inline(never)
    func zeroBinned(_ block: UnsafeMutableRawPointer, sizeClass: Int) {
        block.initializeMemory(as: UInt8.self, repeating: 0, count: SizeClasses.size(ofClass: sizeClass))
    }
}

extension HeapCore {
    /// The calling thread's bin limits by size class (index 0 unused), the
    /// limits its bins start from, and its bin growth budget left — for tests
    /// of the growth rule; nil when the thread has no cache of this heap.
    public func threadBinLimits() -> (limits: [Int], starting: [Int], budgetLeft: Int)? {
        guard let cache = HeapState.existingCache(state) else { return nil }
        let bins = ThreadCache.bins(cache)
        let n = state.pointee.sizeClassCount
        return ((0..<n).map { Int(bins[$0].limit) }, (0..<n).map { Int(state.pointee.objectLimits[$0]) },
                cache.pointee.binGrowthBudget.pointee.load(ordering: .relaxed))
    }

    /// The bytes of a size class's blocks (tests).
    public static func sizeClassBytes(_ sizeClass: Int) -> Int { SizeClasses.size(ofClass: sizeClass) }
    /// A thread's budget for growing its bins (tests).
    public static var binGrowthBudgetBytes: Int { ThreadObjectCache.growthBudgetBytes }
}
