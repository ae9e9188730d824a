import ArenaMap
import Central
import Synchronization
import Platform
import SpanCore

extension HeapCore {
    /// Returns a block to the heap. Any thread may free any block.
    ///
    /// A pointer this heap did not return — foreign, interior, already freed —
    /// stops the process with a message naming it; nothing is corrupted.
    public func deallocate(_ pointer: UnsafeMutableRawPointer) {
        let address = UInt(bitPattern: pointer)
        guard let raw = state.pointee.arenas.spanOf(address) else { HeapCore.notOurs(address, "deallocate") }
        // One span lookup for the fast path and the checked one behind it.
        freeBlock(address, in: raw.assumingMemoryBound(to: Span.self), threadBindings: ThreadLocalSlot.cache.value)
    }

    /// Frees `pointer` when it lies in this heap's arenas (a block there is
    /// checked as ``deallocate(_:)`` checks it); false, touching nothing, when
    /// it does not. The malloc library's `free`: one arena-map lookup for both.
    @inline(__always)
    public func deallocateIfMapped(_ pointer: UnsafeMutableRawPointer) -> Bool {
        deallocateIfMapped(pointer, threadBindings: ThreadLocalSlot.cache.value)
    }

    /// ``deallocateIfMapped(_:)`` with the calling thread's
    /// ``ThreadLocalSlot/cache`` value read by the caller (the malloc library's
    /// C `free`; see ``allocate(byteCount:alignment:zeroed:threadBindings:)``).
    @inline(__always)
    public func deallocateIfMapped(_ pointer: UnsafeMutableRawPointer, threadBindings: UnsafeMutableRawPointer?) -> Bool {
        let address = UInt(bitPattern: pointer)
        guard let raw = state.pointee.arenas.spanOf(address) else { return false }
        freeBlock(address, in: raw.assumingMemoryBound(to: Span.self), threadBindings: threadBindings)
        return true
    }

    /// The free of the block at `address`, whose page's span record is `span`.
    ///
    /// The fast path (``freeFast(_:in:threadBindings:)``) bins the block when
    /// the thread's cache is bound, the span is in use, `address` is an
    /// object's base, the block carries no free mark, the bin has room and
    /// takes the span's node — the standard tier's checks — and leaves
    /// everything else to ``freeChecked(_:in:threadBindings:)``, which
    /// decides precisely (the span's bits too) and names the misuse.
    @inline(__always)
    func freeBlock(_ address: UInt, in span: SpanRef,
                   threadBindings: UnsafeMutableRawPointer?) {
        if freeFast(address, in: span, threadBindings: threadBindings) { return }
        freeChecked(address, in: span, threadBindings: threadBindings)
    }

    /// The fast path of ``freeBlock(_:in:threadBindings:)``: true when it
    /// binned the block, false (touching nothing) when the block needs ``freeChecked(_:in:threadBindings:)``.
    @inline(__always)
    func freeFast(_ address: UInt, in span: SpanRef, threadBindings: UnsafeMutableRawPointer?) -> Bool {
        guard let cache = HeapState.boundCache(state, threadBindings: threadBindings) else { return false }
        let sizeClass = Int(span.pointee.spanClass.sizeClass)
        let bin = ThreadCache.bins(cache) + sizeClass
        // Large spans, the 8-byte class and every class under `.full` have a
        // bin limit of 0, so nothing below reads their words. The base check
        // also refuses `address < start` (the offset wraps, and no index
        // times the size reaches it); `index < nelems` refuses the span's
        // tail. The span's own bits are not read here: a block the mark does
        // not show as freed and that the program wrote over is the standard
        // tier's one miss (`.full` catches it).
        #if NUMAHEAP_UNCHECKED
        guard _fastPath(bin.pointee.count < bin.pointee.limit
                        && ThreadObjectCache.binsObjects(ofNode: span.pointee.node, cache: cache)) else { return false }
        let key = FreeListKeys(link: 0, seal: 0)
        #else
        let index = span.pointee.objectIndex(of: address)
        let key = state.pointee.objectKey
        guard _fastPath(bin.pointee.count < bin.pointee.limit
                        && span.pointee.state.load(ordering: .acquiring) == SpanState.inUse.rawValue
                        && span.pointee.objectAddress(index) == address
                        && index < span.pointee.nelems
                        && ThreadObjectCache.binsObjects(ofNode: span.pointee.node, cache: cache)
                        && !ThreadObjectCache.isMarkedFree(address, key: key)) else {
            return false
        }
        #endif
        ThreadObjectCache.push(bin, address, key: key)
        ThreadCache.count(cache.pointee.frees + sizeClass)
        return true
    }

    /// The free of the block at `address` with every check made in full (the
    /// span's bits as well as the key), for whatever the fast path of
    /// ``freeBlock(_:in:threadBindings:)`` does not take.
    @inline(never)
    func freeChecked(_ address: UInt, in span: SpanRef,
                     threadBindings: UnsafeMutableRawPointer?) {
        let index = check(address, in: span, operation: "deallocate")
        if _slowPath(span.pointee.spanClass.sizeClass == 0) {
            freeLarge(span, address: address, threadBindings: threadBindings)
            return
        }
        let cache = HeapState.cache(state, threadBindings: threadBindings)
        let sizeClass = Int(span.pointee.spanClass.sizeClass)
        let bin = ThreadCache.bins(cache) + sizeClass
        // Onto the thread's bin when it has room and the block is of the
        // thread's node (ThreadObjectCache); else through the span.
        if _fastPath(bin.pointee.count < bin.pointee.limit
                        && ThreadObjectCache.binsObjects(ofNode: span.pointee.node, cache: cache)) {
            let key = state.pointee.objectKey
            if let refusal = ThreadObjectCache.refusal(span, index, address, key: key, cache: cache) {
                HeapCore.refused(refusal, address, span, "deallocate")
            }
            ThreadObjectCache.push(bin, address, key: key)
        } else {
            freeUnbinned(span, index: index, address: address, cache: cache, bin: bin)
        }
        ThreadCache.count(cache.pointee.frees + sizeClass)
    }

    /// A free by a thread that does not own the span (Central's remote-free
    /// protocol). With the calling thread's `cache`, a span this free empties
    /// is held in the thread's stash (``NodeSpanSource/freeSpan(_:)``).
    @inline(never)
    func freeRemote(_ span: SpanRef, index: Int, address: UInt, cache: UnsafeMutablePointer<ThreadCache>? = nil) {
        if let refusal = CentralList.freeRemote(span, index: index, directory: HeapDirectory(state: state, cache: cache)) {
            HeapCore.refused(refusal, address, span, "deallocate")
        }
    }

    /// Frees a large block's span (Go's `freeSpan` for a large object).
    /// The span is kept in the thread's ``ThreadLargeSpans`` when it fits.
    @inline(never)
    func freeLarge(_ span: SpanRef, address: UInt, threadBindings: UnsafeMutableRawPointer?) {
        // The caller's `check` saw the span `inUse`, so a second free after
        // this one is reported. Under `.full`, inUse → dead exactly once: of
        // two frees of the block racing on two threads one loses here. The
        // standard tier stores (a locked compare-exchange is a third of a
        // 100 000-byte pair): racing frees of one block — a double free two
        // threads make at the same instant — are its miss, as they are
        // glibc's and mimalloc's.
        if _slowPath(state.pointee.configuration.checks == .full) {
            guard span.pointee.state.compareExchange(expected: SpanState.inUse.rawValue, desired: SpanState.dead.rawValue,
                                                     ordering: .acquiringAndReleasing).exchanged else {
                HeapCore.freedSpan(address, span, "deallocate")
            }
        } else {
            span.pointee.state.store(SpanState.dead.rawValue, ordering: .releasing)
        }
        let cache = HeapState.cache(state, threadBindings: threadBindings)
        ThreadCache.count(cache.pointee.frees)
        ThreadCache.count(cache.pointee.largeBytesFreed, span.pointee.elemSize)
        if !keepLargeSpan(span, cache: cache) { offerLargeSpan(span) }
    }

    /// The span and object index of a block's base address; stops the process
    /// with a precise message when `address` is not a live block of this heap.
    @inline(__always)
    func resolve(_ address: UInt, operation: StaticString) -> (SpanRef, Int) {
        guard let raw = state.pointee.arenas.spanOf(address) else {
            HeapCore.notOurs(address, operation)
        }
        let span = raw.assumingMemoryBound(to: Span.self)
        return (span, check(address, in: span, operation: operation))
    }

    /// The object index of `address` in `span` (the record its page's span-map
    /// entry names); stops the process when the span is not in use, does not
    /// contain `address`, or `address` is not an object's base.
    @inline(__always)
    func check(_ address: UInt, in span: SpanRef, operation: StaticString) -> Int {
        if _slowPath(span.pointee.state.load(ordering: .acquiring) != SpanState.inUse.rawValue
                        || !span.pointee.contains(address)) {
            HeapCore.freedSpan(address, span, operation)
        }
        let index = span.pointee.objectIndex(of: address)
        if _slowPath(span.pointee.objectAddress(index) != address) {
            HeapCore.interior(address, span, index, operation)
        }
        return index
    }

    @inline(never)
    static func notOurs(_ address: UInt, _ operation: StaticString) -> Never {
        FatalMessage("NUMAHeap: ").text(operation).text("(").hex(address)
            .text("): invalid pointer: not allocated by this heap").crash()
    }

    @inline(never)
    static func freedSpan(_ address: UInt, _ span: SpanRef, _ operation: StaticString) -> Never {
        FatalMessage("NUMAHeap: ").text(operation).text("(").hex(address)
            .text("): pointer into freed memory (double free of a large block, or use after free); the span at ")
            .hex(span.pointee.startAddress).text(" is not in use").crash()
    }

    @inline(never)
    static func interior(_ address: UInt, _ span: SpanRef, _ index: Int, _ operation: StaticString) -> Never {
        FatalMessage("NUMAHeap: ").text(operation).text("(").hex(address)
            .text("): interior pointer: ").decimal(Int(address - span.pointee.objectAddress(index)))
            .text(" bytes into the block at ").hex(span.pointee.objectAddress(index))
            .text(" of size ").decimal(span.pointee.elemSize).crash()
    }

    @inline(never)
    static func refused(_ refusal: FreeRefusal, _ address: UInt, _ span: SpanRef, _ operation: StaticString,
                        freeing: Bool = true) -> Never {
        switch refusal {
        case .alreadyFreed where !freeing:
            FatalMessage("NUMAHeap: ").text(operation).text("(").hex(address)
                .text("): use of a freed block of size ").decimal(span.pointee.elemSize).crash()
        case .alreadyFreed:
            FatalMessage("NUMAHeap: ").text(operation).text("(").hex(address)
                .text("): double free of a block of size ").decimal(span.pointee.elemSize).crash()
        case .notAllocated:
            FatalMessage("NUMAHeap: ").text(operation).text("(").hex(address)
                .text("): block of size ").decimal(span.pointee.elemSize)
                .text(" is not allocated (double free, or a pointer never returned by allocate)").crash()
        }
    }

    // MARK: Queries

    /// Resizes a block, in place when its size class (or large span) still fits;
    /// otherwise moves it, copying the smaller of the two sizes, and frees the old one.
    public func reallocate(_ pointer: UnsafeMutableRawPointer, byteCount: Int) throws(HeapError) -> UnsafeMutableRawPointer {
        let address = UInt(bitPattern: pointer)
        let (span, index) = resolve(address, operation: "reallocate")
        guard byteCount >= 0, byteCount <= Heap.maximumByteCount else { throw .invalidSize(byteCount) }
        // A live check: the block must be allocated, not freed.
        if let refusal = liveRefusal(span, index, address) { HeapCore.refused(refusal, address, span, "reallocate") }
        let usable = span.pointee.elemSize
        let size = max(byteCount, 1)
        let fitsInPlace: Bool
        if span.pointee.spanClass.sizeClass == 0 {
            let pageSize = state.pointee.pageSize
            let pages = ThreadLargeSpans.spanPages(for: (size + pageSize - 1) / pageSize)
            fitsInPlace = pages == span.pointee.pageCount
                || (pages > span.pointee.pageCount
                    && growLargeInPlace(span, toPages: pages, cache: HeapState.currentCache(state)))
        } else {
            fitsInPlace = size <= usable && SizeClasses.sizeClass(for: size) == span.pointee.spanClass.sizeClass
        }
        if fitsInPlace { return pointer }
        let fresh = try allocate(byteCount: size, alignment: 16, zeroed: false)
        fresh.copyMemory(from: pointer, byteCount: min(usable, size))
        deallocate(pointer)
        return fresh
    }

    /// Bytes usable in the block at `pointer` (its size class's size, or its
    /// span's pages for a large block): at least what was requested.
    ///
    /// Under the `.full` tier a block that is not allocated (freed, or never
    /// handed out) stops the process; `.standard` reads only the span record.
    public func usableSize(of pointer: UnsafeRawPointer) -> Int {
        let address = UInt(bitPattern: pointer)
        let (span, index) = resolve(address, operation: "usableSize")
        if _slowPath(state.pointee.configuration.checks == .full),
           let refusal = liveRefusal(span, index, address) {
            HeapCore.refused(refusal, address, span, "usableSize", freeing: false)
        }
        return span.pointee.elemSize
    }

    /// Bytes usable in the block at `pointer`, which the caller is about to
    /// resize (the malloc library's `realloc`): stops the process as
    /// ``reallocate(_:byteCount:)`` does for a block that is not live, in both tiers.
    public func usableSize(resizing pointer: UnsafeRawPointer) -> Int {
        let address = UInt(bitPattern: pointer)
        let (span, index) = resolve(address, operation: "reallocate")
        if let refusal = liveRefusal(span, index, address) { HeapCore.refused(refusal, address, span, "reallocate") }
        return span.pointee.elemSize
    }

    /// Why object `index` of `span` (at `address`) is not a live block — it
    /// carries the free mark, or its span's bits say freed or never handed
    /// out — or nil. A large block's span state (checked by ``resolve(_:operation:)``) is its whole state.
    func liveRefusal(_ span: SpanRef, _ index: Int, _ address: UInt) -> FreeRefusal? {
        if span.pointee.spanClass.sizeClass == 0 { return nil }
        // Only classes with a bin carry the mark (the 8-byte class has no second word).
        if state.pointee.objectLimits[Int(span.pointee.spanClass.sizeClass)] != 0
            && ThreadObjectCache.isMarkedFree(address, key: state.pointee.objectKey) {
            return .alreadyFreed
        }
        return ThreadObjectCache.spanRefusal(span, index, cache: HeapState.currentCache(state))
    }

    /// True when `pointer` is the base of a block in a span this heap has in use
    /// (it does not tell whether that block is currently allocated).
    public func owns(_ pointer: UnsafeRawPointer) -> Bool {
        let address = UInt(bitPattern: pointer)
        guard let raw = state.pointee.arenas.spanOf(address) else { return false }
        let span = raw.assumingMemoryBound(to: Span.self)
        guard span.pointee.state.load(ordering: .acquiring) == SpanState.inUse.rawValue,
              span.pointee.contains(address) else { return false }
        return span.pointee.objectAddress(span.pointee.objectIndex(of: address)) == address
    }

    /// NUMA node of the memory at `pointer`, from the arena map (no system call);
    /// nil when the heap did not map it.
    public func node(of pointer: UnsafeRawPointer) -> Int? {
        state.pointee.arenas.nodeOf(UInt(bitPattern: pointer)).map { Int($0) }
    }

    /// Returns this thread's cached spans to their central lists (Go's
    /// `mcache.releaseAll`), so that statistics and other threads see them.
    public func flushThreadCache() {
        guard let cache = HeapState.existingCache(state) else { return }
        returnAllObjects(cache)
        ThreadHeldMemory.acquire(cache)
        returnLargeSpans(cache)
        ThreadHeldMemory.release(cache)
        ThreadCache.flush(cache, directory: HeapDirectory(state: state))
        ThreadHeldMemory.acquire(cache)
        NodeSpanSource.returnFreedSpans(ThreadSpanStash.of(cache), state: state)
        ThreadHeldMemory.release(cache)
    }
}

extension HeapCore {
    /// Returns the empty spans the central lists keep for reuse
    /// (``CentralList/retainedEmptyLimit`` per class and node) to the page heap,
    /// so that ``releaseFreeMemory()`` can release their pages too.
    func releaseRetainedSpans() {
        let directory = HeapDirectory(state: state)
        for n in 0..<state.pointee.nodeCount {
            for c in 0..<state.pointee.spanClassCount {
                _ = (state.pointee.nodes[n].central + c).pointee.releaseEmptySpans(source: directory.source(node: Int32(n)))
            }
        }
    }
}

extension HeapCore {
    // MARK: The leaf fast path (HeapCore+Allocate.swift says what a leaf may do)

    /// Frees `pointer` onto the calling thread's bin when the fast path of
    /// ``freeBlock(_:in:threadBindings:)`` takes it, and answers true; false,
    /// touching nothing, otherwise — a pointer outside the heap's arenas
    /// included — and the caller takes ``deallocate(_:)`` (or, in the malloc
    /// library, its full `free`), which checks everything and names any misuse.
    @inline(__always)
    public func deallocateFast(_ pointer: UnsafeMutableRawPointer, threadBindings: UnsafeMutableRawPointer?) -> Bool {
        let address = UInt(bitPattern: pointer)
        guard let raw = state.pointee.arenas.spanOf(address) else { return false }
        return freeFast(address, in: raw.assumingMemoryBound(to: Span.self), threadBindings: threadBindings)
    }
}
