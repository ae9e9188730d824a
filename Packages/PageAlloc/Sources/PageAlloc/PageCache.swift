// PageCache: Go's pageCache — a 64-page block, aligned to 64 pages, that one
// thread owns and allocates from without the owner's lock. The pages are
// marked in use in the allocator while the cache holds them; `flush` gives the
// unused ones back.
import Platform

/// Pages a ``PageCache`` holds (Go's pageCachePages).
@usableFromInline let pageCachePages: UInt = 64

/// A per-thread cache of up to 64 free pages from one aligned block.
///
/// Take one with ``PageAllocator/allocToCache()`` under the owner's lock, then
/// allocate from it without the lock; return what is left with
/// ``PageAllocator/flush(_:)`` under the lock. Pages allocated from a cache are
/// freed to the allocator with ``PageAllocator/free(base:pages:)`` as usual.
public struct PageCache: Sendable {
    /// Address of the block's first page; 0 for an empty cache.
    @inlinable public var base: UInt { _base }
    @usableFromInline var _base: UInt
    /// Bit i set: page i of the block is free in this cache.
    @usableFromInline var cache: UInt64
    /// Bit i set: page i is scavenged (only ever set where `cache` is).
    @usableFromInline var scavenged: UInt64
    /// log2 of the page size of the allocator that filled it.
    @usableFromInline var pageShift: UInt

    /// An empty cache.
    @inlinable public init() {
        _base = 0; cache = 0; scavenged = 0; pageShift = 0
    }

    @usableFromInline init(base: UInt, cache: UInt64, scavenged: UInt64, pageShift: UInt) {
        self._base = base; self.cache = cache; self.scavenged = scavenged; self.pageShift = pageShift
    }

    /// Whether no page is left.
    @inlinable public var isEmpty: Bool { cache == 0 }
    /// Pages left.
    @inlinable public var freePages: Int { cache.nonzeroBitCount }

    /// Allocates `pages` contiguous pages from the cache (the lowest fit).
    /// - Returns: the base and scavenged bytes as ``PageAllocator/allocate(pages:)``
    ///   does, or nil when no run of `pages` is left (always for more than 64).
    /// - Precondition: `pages > 0`.
    @inlinable
    public mutating func allocate(pages: Int = 1) -> (base: UInt, scavengedBytes: Int)? {
        if _slowPath(pages <= 0) { PageCache.misuse(pages) }
        if cache == 0 { return nil }
        if pages == 1 {
            let i = UInt64(cache.trailingZeroBitCount)
            let bit: UInt64 = 1 << i
            let scav = (scavenged & bit) != 0
            cache &= ~bit
            scavenged &= ~bit
            return (base + UInt(i) << pageShift, scav ? 1 << Int(pageShift) : 0)
        }
        return allocateRun(UInt(pages))
    }

    /// Allocates exactly the `pages` pages from `base` when all of them are in
    /// this cache and free (a block growing in place); nil, changing nothing,
    /// otherwise. Returns the scavenged bytes of the run.
    @inlinable
    public mutating func allocate(base address: UInt, pages: Int) -> Int? {
        guard cache != 0, pages > 0, pages <= 64, address >= base,
              address & ((1 << pageShift) - 1) == 0 else { return nil }
        let i = (address - base) >> pageShift
        guard i + UInt(pages) <= 64 else { return nil }
        let mask = PallocBits.mask(i, UInt(pages))
        guard cache & mask == mask else { return nil }
        let scav = (scavenged & mask).nonzeroBitCount
        cache &= ~mask
        scavenged &= ~mask
        return scav << Int(pageShift)
    }

    /// Gives `pages` pages from `base` back to this cache when they lie in its
    /// block — pages its owner allocated from it, or pages of the block the
    /// owner took from the allocator some other way (they are in use there
    /// too) — so a thread frees its own small spans without the owner's lock
    /// or a summary update. They come back unscavenged (freed memory is
    /// dirty). False, changing nothing, when the run is not inside the block
    /// (the caller frees it to the allocator).
    /// - Precondition: the pages are allocated and none is in this cache.
    @inlinable
    public mutating func free(base address: UInt, pages: Int) -> Bool {
        guard _base != 0, pages > 0, pages <= 64, address >= _base else { return false }
        let offset = address - _base
        guard offset & ((1 << pageShift) - 1) == 0 else { return false }
        let i = offset >> pageShift
        guard i + UInt(pages) <= 64 else { return false }
        let mask = PallocBits.mask(i, UInt(pages))
        if _slowPath(cache & mask != 0) { PageCache.doubleFree(address, pages) }
        cache |= mask
        return true
    }

    @usableFromInline @inline(never)
    static func doubleFree(_ address: UInt, _ pages: Int) -> Never {
        FatalMessage("PageAlloc: PageCache.free(base: ").hex(address).text(", pages: ").decimal(pages)
            .text("): a page of the run is already free in the cache").crash()
    }

    @usableFromInline
    mutating func allocateRun(_ n: UInt) -> (base: UInt, scavengedBytes: Int)? {
        if n > 64 { return nil }
        let i = PallocBits.firstRunOfOnes(cache, n)
        if i >= 64 { return nil }
        let mask = PallocBits.mask(i, n)
        let scav = (scavenged & mask).nonzeroBitCount
        cache &= ~mask
        scavenged &= ~mask
        return (base + i << pageShift, scav << Int(pageShift))
    }

    @usableFromInline @inline(never)
    static func misuse(_ pages: Int) -> Never {
        FatalMessage("PageAlloc: PageCache.allocate(pages: ").decimal(pages).text("): the page count must be positive").crash()
    }
}

extension PageAllocator {
    /// Takes the 64-page block holding the lowest free page into a new cache
    /// (Go's allocToCache): every page of the block becomes in use here and the
    /// free ones belong to the cache. Returns an empty cache when nothing is free.
    public mutating func allocToCache() -> PageCache {
        if searchPage >> chunkPagesLog >= endChunk { return PageCache() }
        let leaf = summaryLevelCount - 1
        var ci = searchPage >> chunkPagesLog
        var first: UInt
        if summaries[leaf, Int(ci)].raw != 0 {
            // Free pages at or near the hint.
            guard let j = chunks.alloc(ci).find(1, from: searchPage & (chunkPages - 1)).index else {
                badSummary(level: leaf, index: Int(ci), n: 1)
            }
            first = j
        } else {
            guard let r = find(1) else {
                searchPage = totalPages
                return PageCache()
            }
            ci = r.page >> chunkPagesLog
            first = r.page & (chunkPages - 1)
        }
        let blockIndex = first & ~(pageCachePages - 1)
        let page = ci << chunkPagesLog + blockIndex
        let c = PageCache(
            base: page << pageShift,
            cache: ~chunks.alloc(ci).word(containing: blockIndex),
            scavenged: chunks.scavenged(ci).word(containing: blockIndex),
            pageShift: pageShift)
        _ = allocRange(page, pageCachePages)
        // Every page of the block is now in use and none below it was free.
        // The block's last page keeps the hint inside grown space.
        searchPage = page + pageCachePages - 1
        return c
    }

    /// Returns a cache's remaining pages (and their scavenged bits) to the
    /// allocator and empties it (Go's pageCache.flush).
    /// - Precondition: the cache came from this allocator and its pages are
    ///   still held by it.
    public mutating func flush(_ c: inout PageCache) {
        if c.isEmpty { c = PageCache(); return }
        if c.pageShift != pageShift {
            FatalMessage("PageAlloc: flush: cache at ").hex(c.base).text(" has page size ").decimal(1 << Int(c.pageShift))
                .text(", this allocator ").decimal(pageSize).crash()
        }
        let page = c.base >> pageShift
        if !grown.contains(page, page + pageCachePages) {
            FatalMessage("PageAlloc: flush: cache at ").hex(c.base).text(" is outside the grown space").crash()
        }
        let ci = page >> chunkPagesLog, w = BitIndex.word(page & (chunkPages - 1))
        let a = chunks.alloc(ci).words, s = chunks.scavenged(ci).words
        if a[w] & c.cache != c.cache {
            let i = UInt((c.cache & ~a[w]).trailingZeroBitCount)
            FatalMessage("PageAlloc: flush: cache at ").hex(c.base).text(" holds page ")
                .hex(c.base + i << pageShift).text(", which is not allocated").crash()
        }
        a[w] &= ~c.cache
        s[w] |= c.scavenged & c.cache
        freeCount += UInt(c.cache.nonzeroBitCount)
        scavengedCount += UInt((c.scavenged & c.cache).nonzeroBitCount)
        if page < searchPage { searchPage = page }
        update(page, pageCachePages, contiguous: false, allocated: false)
        c = PageCache()
    }
}
