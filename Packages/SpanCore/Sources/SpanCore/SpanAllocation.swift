import Platform
import Synchronization

// The owner's side of a span: handing out free objects in index order, and
// sweeping frees back in. Only the span's owner (or, for an unowned span, the
// holder of its central list's lock) may call these.

extension Span {
    /// The fast path (Go's `nextFreeFast`): the next free object from
    /// ``allocCache`` without touching the alloc bits, or nil when the cache is
    /// empty or the next object starts a new 64-bit word (the caller then takes
    /// ``nextFreeIndex()``).
    @inlinable @inline(__always)
    public func nextFreeFast() -> UInt? {
        let cache = allocCache.load(ordering: .relaxed)
        let bit = cache.trailingZeroBitCount
        if bit < 64 {
            let result = freeindex.load(ordering: .relaxed) &+ bit
            if result < nelems {
                let next = result &+ 1
                if BitIndex.startsWord(next) && next != nelems { return nil }
                allocCache.store(cache >> UInt64(bit &+ 1), ordering: .relaxed)
                freeindex.store(next, ordering: .releasing)
                allocCount.store(allocCount.load(ordering: .relaxed) &+ 1, ordering: .relaxed)
                return startAddress &+ UInt(bitPattern: result &* elemSize)
            }
        }
        return nil
    }

    /// The slow path (Go's `nextFreeIndex`): the index of the next free object at
    /// or after ``freeindex``, refilling ``allocCache`` from the alloc bits word by
    /// word; `nelems` when none is left before the next sweep. Advances
    /// ``freeindex`` past the returned object and counts it allocated.
    @inlinable
    public func nextFreeIndex() -> Int {
        var index = freeindex.load(ordering: .relaxed)
        if index >= nelems { return nelems }
        var bit = allocCache.load(ordering: .relaxed).trailingZeroBitCount
        while bit == 64 {
            // The cache is exhausted: move to the next 64-object word.
            index = BitIndex.nextWordStart(index)
            if index >= nelems {
                freeindex.store(nelems, ordering: .releasing)
                return nelems
            }
            refillAllocCache(word: BitIndex.word(index))
            bit = allocCache.load(ordering: .relaxed).trailingZeroBitCount
        }
        let result = index &+ bit
        if result >= nelems {
            freeindex.store(nelems, ordering: .releasing)
            return nelems
        }
        allocCache.store(allocCache.load(ordering: .relaxed) >> UInt64(bit &+ 1), ordering: .relaxed)
        let next = result &+ 1
        if BitIndex.startsWord(next) && next != nelems {
            refillAllocCache(word: BitIndex.word(next))
        }
        freeindex.store(next, ordering: .releasing)
        allocCount.store(allocCount.load(ordering: .relaxed) &+ 1, ordering: .relaxed)
        return result
    }

    /// Loads the complement of alloc-bits word `word` into ``allocCache`` (Go's
    /// `refillAllocCache`): a 1 bit is a free object.
    @inlinable @inline(__always)
    public func refillAllocCache(word: Int) {
        allocCache.store(~allocBits[word].load(ordering: .relaxed), ordering: .relaxed)
    }

    /// Folds every free since the last sweep into the alloc bits, restarts
    /// allocation at object 0, recounts ``allocCount`` and returns how many
    /// objects were freed. A manual-heap sweep: free bits play the part of Go's
    /// inverted mark bits.
    ///
    /// An object freed twice — once by the owner and once remotely — is found here
    /// (both bits set) and reported as a double free.
    @inlinable
    public func sweepFrees() -> Int {
        let handedOut = freeindex.load(ordering: .relaxed)
        var live = 0
        var freed = 0
        var remoteFreed = 0
        for w in 0..<BitIndex.words(nelems) {
            let handedMask = BitIndex.mask(below: handedOut, inWord: w)
            let allocated = allocBits[w].load(ordering: .relaxed) | handedMask
            let local = localFreeBits[w]
            var remote: UInt64 = 0
            if remoteFreeBits[w].load(ordering: .relaxed) != 0 {
                remote = remoteFreeBits[w].exchange(0, ordering: .acquiringAndReleasing)
            }
            if _slowPath(local & remote != 0) {
                Span.doubleFreeFoundBySweep(objectAddress(w &* BitIndex.bitsPerWord &+ (local & remote).trailingZeroBitCount))
            }
            let gone = local | remote
            let newBits = allocated & ~gone
            allocBits[w].store(newBits, ordering: .relaxed)
            localFreeBits[w] = 0
            live &+= newBits.nonzeroBitCount
            freed &+= (allocated & gone).nonzeroBitCount
            remoteFreed &+= remote.nonzeroBitCount
        }
        if remoteFreed != 0 { remoteFreeCount.subtract(remoteFreed, ordering: .relaxed) }
        // Objects that were handed out and freed hold old data now (Go's sweep
        // sets needzero when it frees anything).
        if freed != 0 { needzero.store(true, ordering: .relaxed) }
        allocCount.store(live, ordering: .relaxed)
        refillAllocCache(word: 0)
        // Last, with release: remote frees that see freeindex == 0 see the new bits.
        freeindex.store(0, ordering: .releasing)
        return freed
    }

    @usableFromInline @inline(never)
    static func doubleFreeFoundBySweep(_ address: UInt) -> Never {
        FatalMessage("NUMAHeap: double free of ").hex(address)
            .text(": freed by its owning thread and by another thread").crash()
    }

    /// Free objects not yet handed out since the last sweep, plus nothing pending:
    /// true when every object is allocated as of the owner's view.
    @inlinable public var isFull: Bool { allocCount.load(ordering: .relaxed) == nelems }
}

/// Why a free was refused (the free path reports these with the address).
public enum FreeRefusal: Error, Sendable, Equatable {
    /// The object is not allocated: never allocated, or freed and swept already.
    case notAllocated
    /// The object was already freed since the last sweep.
    case alreadyFreed
}

extension Span {
    /// Records the free of object `index` by the span's owner (no atomics on
    /// the owner's own bits).
    @inlinable @inline(__always)
    public func freeLocal(_ index: Int) -> FreeRefusal? {
        let w = BitIndex.word(index)
        let mask = BitIndex.mask(index)
        let allocated = allocBits[w].load(ordering: .relaxed) & mask != 0
            || index < freeindex.load(ordering: .relaxed)
        if _slowPath(!allocated) { return .notAllocated }
        if _slowPath((localFreeBits[w] | remoteFreeBits[w].load(ordering: .relaxed)) & mask != 0) {
            return .alreadyFreed
        }
        localFreeBits[w] |= mask
        return nil
    }

    /// Records the free of object `index` by a thread that does not own the span.
    /// Returns the number of remote frees pending after this one (the caller
    /// decides from it whether an unowned span needs its central list's
    /// attention), or the refusal.
    @inlinable
    public func freeRemote(_ index: Int) -> Result<Int, FreeRefusal> {
        let w = BitIndex.word(index)
        let mask = BitIndex.mask(index)
        // freeindex first (acquire), then the bits: see "Memory ordering".
        let handedOut = freeindex.load(ordering: .acquiring)
        let allocated = index < handedOut || allocBits[w].load(ordering: .relaxed) & mask != 0
        if _slowPath(!allocated) { return .failure(.notAllocated) }
        let old = remoteFreeBits[w].bitwiseOr(mask, ordering: .sequentiallyConsistent).oldValue
        if _slowPath(old & mask != 0) { return .failure(.alreadyFreed) }
        return .success(remoteFreeCount.add(1, ordering: .sequentiallyConsistent).newValue)
    }
}
