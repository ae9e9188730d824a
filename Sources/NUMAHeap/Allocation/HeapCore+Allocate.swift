import ArenaMap
import Central
import Glibc
import PageAlloc
import Platform
import SpanCore
import Synchronization

// Allocation: validation, the size-class lookup, the thread's bin and span,
// the refill, large blocks. The leaf fast paths (here ``allocateFast``,
// ``deallocateFast`` in HeapCore+Free.swift) are the common allocation and
// free with nothing else in the function — no call, so no register saved or
// restored; a miss answers nil/false and the caller takes the full path.
// `Heap.allocate` (inlined at the call site) and the malloc library's C
// `malloc`/`free` call them first. Neither may run anything that could
// re-enter `malloc`: only loads, stores and the thread's own bin and span.

extension HeapCore {
    /// Allocates `byteCount` bytes aligned to `alignment`, zeroed when asked.
    @inline(__always)
    public func allocate(byteCount: Int, alignment: Int, zeroed: Bool) throws(HeapError) -> UnsafeMutableRawPointer {
        try allocate(byteCount: byteCount, alignment: alignment, zeroed: zeroed,
                     threadBindings: ThreadLocalSlot.cache.value)
    }

    /// ``allocate(byteCount:alignment:zeroed:)`` with the calling thread's
    /// ``ThreadLocalSlot/cache`` value read by the caller (the malloc library's
    /// C `malloc`; why it reads the slot itself: Sources/CNUMAHeapMalloc/malloc.c,
    /// "The heap's own fast paths").
    @inline(__always)
    public func allocate(byteCount: Int, alignment: Int, zeroed: Bool,
                         threadBindings: UnsafeMutableRawPointer?) throws(HeapError) -> UnsafeMutableRawPointer {
        // Alignments 1…16 need no search: every class above 16 bytes but 24 is a
        // multiple of 16 and spans are page-aligned; the lookup's
        // 16-byte-aligned row (SizeClassLookup) already maps 8 → 16 for alignment 16.
        let alignmentOK = UInt(bitPattern: alignment &- 1) < 16 && alignment & (alignment &- 1) == 0
        let size = UInt(bitPattern: byteCount)
        if _fastPath(size <= UInt(SizeClasses.maxSmallSize) && alignmentOK) {
            let sizeClass = state.pointee.sizeClassLookup.sizeClass(forSize: size, alignment: alignment)
            return try allocateSmall(sizeClass: sizeClass, zeroed: zeroed, threadBindings: threadBindings)
        }
        if _fastPath(size <= UInt(Heap.maximumByteCount) && alignmentOK) {
            return try allocateLarge(byteCount: byteCount, alignment: 16, zeroed: zeroed, threadBindings: threadBindings)
        }
        return try allocateSlow(byteCount: byteCount, alignment: alignment, zeroed: zeroed)
    }

    /// The full small allocation: this thread's bin or cached span for the
    /// class (``cachedBlock(sizeClass:zeroed:cache:)``), then the slow refill.
    /// Its calls out (the unbound thread, the refill) are not tail calls —
    /// typed throws are checked after them — so it saves registers; the
    /// register-free path is the leaf ``allocateFast(byteCount:threadBindings:)``.
    @inline(__always)
    func allocateSmall(sizeClass: Int, zeroed: Bool,
                       threadBindings: UnsafeMutableRawPointer?) throws(HeapError) -> UnsafeMutableRawPointer {
        guard let cache = HeapState.boundCache(state, threadBindings: threadBindings) else {
            return try allocateSmallUnbound(sizeClass: sizeClass, zeroed: zeroed)
        }
        return try allocateSmall(sizeClass: sizeClass, zeroed: zeroed, cache: cache)
    }

    /// ``allocateSmall(sizeClass:zeroed:threadBindings:)`` when the thread's
    /// first binding is not to this heap (first use, or several heaps).
    @inline(never)
    func allocateSmallUnbound(sizeClass: Int, zeroed: Bool) throws(HeapError) -> UnsafeMutableRawPointer {
        try allocateSmall(sizeClass: sizeClass, zeroed: zeroed, cache: HeapState.bindSlow(state))
    }

    @inline(__always)
    func allocateSmall(sizeClass: Int, zeroed: Bool,
                       cache: UnsafeMutablePointer<ThreadCache>) throws(HeapError) -> UnsafeMutableRawPointer {
        if let block = cachedBlock(sizeClass: sizeClass, zeroed: zeroed, cache: cache) { return block }
        return try refill(cache: cache, spanClass: SpanClass(sizeClass: sizeClass, noscan: true), zeroed: zeroed)
    }

    /// A block of the class from the thread's cache — the thread's most
    /// recently freed block of the class first (ThreadObjectCache), then its
    /// span's `allocCache` — counted, and zeroed when asked and needed; nil
    /// when both are empty (then ``refill(cache:spanClass:zeroed:)``). Calls
    /// nothing unless zeroing or reporting.
    ///
    /// `inLeaf`: the caller is the leaf ``allocateFast(byteCount:threadBindings:)``,
    /// which may call nothing, so a bin whose first block's mark is broken
    /// answers nil and is left to the full path, which stops the process
    /// naming the block (``ThreadObjectCache/corruptedFreeList(_:)``).
    @inline(__always)
    func cachedBlock(sizeClass: Int, zeroed: Bool, cache: UnsafeMutablePointer<ThreadCache>,
                     inLeaf: Bool = false) -> UnsafeMutableRawPointer? {
        let bin = ThreadCache.bins(cache) + sizeClass
        if bin.pointee.head != 0 {
            let key = state.pointee.objectKey
            guard let block = ThreadObjectCache.peek(bin, key: key) else {
                if inLeaf { return nil }
                ThreadObjectCache.corruptedFreeList(bin.pointee.head)
            }
            ThreadObjectCache.unlink(bin, block, key: key, clearingMark: true)
            ThreadCache.count(cache.pointee.mallocs + sizeClass)
            if zeroed { zeroBinned(UnsafeMutableRawPointer(block), sizeClass: sizeClass) }
            return UnsafeMutableRawPointer(block)
        }
        let span = cache.pointee.spans[SpanClass(sizeClass: sizeClass, noscan: true).index]
        guard let address = span.pointee.nextFreeFast() else { return nil }
        ThreadObjectCache.clearMark(address, sizeClass: sizeClass)
        ThreadCache.count(cache.pointee.mallocs + sizeClass)
        let p = UnsafeMutableRawPointer(bitPattern: address).unsafelyUnwrapped
        if zeroed && span.pointee.needzero.load(ordering: .relaxed) {
            p.initializeMemory(as: UInt8.self, repeating: 0, count: span.pointee.elemSize)
        }
        return p
    }

    @inline(never)
    func refill(cache: UnsafeMutablePointer<ThreadCache>, spanClass: SpanClass, zeroed: Bool) throws(HeapError) -> UnsafeMutableRawPointer {
        chooseNode(cache)
        guard let address = ThreadCache.nextFree(cache, spanClass, directory: HeapDirectory(state: state, cache: cache)) else {
            throw .outOfMemory(requested: SizeClasses.size(ofClass: spanClass.sizeClass))
        }
        ThreadObjectCache.clearMark(address, sizeClass: spanClass.sizeClass)
        ThreadCache.count(cache.pointee.mallocs + spanClass.sizeClass)
        let span = cache.pointee.spans[spanClass.index]
        let p = UnsafeMutableRawPointer(bitPattern: address)!
        if zeroed && span.pointee.needzero.load(ordering: .relaxed) {
            p.initializeMemory(as: UInt8.self, repeating: 0, count: span.pointee.elemSize)
        }
        return p
    }

    /// Validation, over-aligned small blocks and large blocks.
    @inline(never)
    func allocateSlow(byteCount: Int, alignment: Int, zeroed: Bool) throws(HeapError) -> UnsafeMutableRawPointer {
        guard byteCount >= 0, byteCount <= Heap.maximumByteCount else { throw .invalidSize(byteCount) }
        guard alignment > 0, alignment & (alignment - 1) == 0, alignment <= Heap.maximumAlignment else {
            throw .invalidAlignment(alignment)
        }
        let size = max(byteCount, 1)
        let pageSize = state.pointee.pageSize
        if size <= SizeClasses.maxSmallSize && alignment <= pageSize {
            // Objects of a class whose size is a multiple of the alignment are
            // aligned, since spans start on page boundaries.
            var sizeClass = SizeClasses.sizeClass(for: max(size, alignment))
            while sizeClass < SizeClasses.count && SizeClasses.size(ofClass: sizeClass) % alignment != 0 {
                sizeClass += 1
            }
            if sizeClass < SizeClasses.count {
                return try allocateSmall(sizeClass: sizeClass, zeroed: zeroed, threadBindings: ThreadLocalSlot.cache.value)
            }
        }
        return try allocateLarge(byteCount: size, alignment: alignment, zeroed: zeroed,
                                 threadBindings: ThreadLocalSlot.cache.value)
    }

    /// A block with a span of its own (Go's `largeAlloc`): `byteCount` and
    /// `alignment` are valid and `byteCount` is above the small classes (or
    /// no class has the alignment). `threadBindings` is the thread's
    /// ``ThreadLocalSlot/cache`` value, read by the caller.
    @inline(never)
    func allocateLarge(byteCount: Int, alignment: Int, zeroed: Bool,
                       threadBindings: UnsafeMutableRawPointer?) throws(HeapError) -> UnsafeMutableRawPointer {
        let pageSize = SizeClasses.pageSize  // the heap's (state.pageSize), a constant: no division below
        let pages = ThreadLargeSpans.spanPages(for: (byteCount + pageSize - 1) / pageSize)
        let alignmentPages = max(1, alignment / pageSize)
        let cache = HeapState.cache(state, threadBindings: threadBindings)
        chooseNode(cache)
        if alignment <= pageSize,
           let span = reuseLargeSpan(pages: pages, node: cache.pointee.node, cache: cache)
                      ?? takeNodeLargeSpan(pages: pages, node: cache.pointee.node) {
            let bytes = span.pointee.pageCount * pageSize
            ThreadCache.count(cache.pointee.mallocs)
            ThreadCache.count(cache.pointee.largeBytesAllocated, bytes)
            let p = UnsafeMutableRawPointer(bitPattern: span.pointee.startAddress)!
            if zeroed { p.initializeMemory(as: UInt8.self, repeating: 0, count: bytes) }  // Freed memory is dirty.
            return p
        }
        let source = NodeSpanSource(state: state, node: Int(cache.pointee.node), cache: cache)
        guard let span = source.allocateSpan(pages: pages, alignmentPages: alignmentPages,
                                         spanClass: SpanClass(sizeClass: 0, noscan: true),
                                         elemSize: pages * pageSize) else {
            throw .outOfMemory(requested: byteCount)
        }
        _ = span.pointee.nextFreeIndex()  // Its one object is now allocated.
        ThreadCache.count(cache.pointee.mallocs)
        ThreadCache.count(cache.pointee.largeBytesAllocated, pages * pageSize)
        let p = UnsafeMutableRawPointer(bitPattern: span.pointee.startAddress)!
        if zeroed && span.pointee.needzero.load(ordering: .relaxed) { p.initializeMemory(as: UInt8.self, repeating: 0, count: pages * pageSize) }
        return p
    }
}

extension HeapCore {
    // MARK: The leaf fast path

    /// A block of `byteCount` ≤ 1024 bytes, 16-byte aligned, from the calling
    /// thread's bin for the class or its cached span's `allocCache`; nil when
    /// the request is larger, the thread's first binding is not to this heap,
    /// or both are empty (the caller then takes ``allocate(byteCount:alignment:zeroed:threadBindings:)``).
    /// `threadBindings` is the thread's ``ThreadLocalSlot/cache`` value.
    @inline(__always)
    public func allocateFast(byteCount: Int, threadBindings: UnsafeMutableRawPointer?) -> UnsafeMutableRawPointer? {
        let size = UInt(bitPattern: byteCount)
        guard _fastPath(size <= 1024),
              let cache = HeapState.boundCache(state, threadBindings: threadBindings) else { return nil }
        let sizeClass = state.pointee.sizeClassLookup.aligned16SizeClass(forSmallSize: size)
        return cachedBlock(sizeClass: sizeClass, zeroed: false, cache: cache, inLeaf: true)
    }
}
