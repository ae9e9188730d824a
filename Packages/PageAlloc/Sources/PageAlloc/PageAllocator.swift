// PageAllocator: Go's pageAlloc over any page-granular range of a 48-bit
// address space. This file holds the state, init/deinit, grow and statistics;
// the search is in PageAllocator+Find.swift, allocate/free/update in
// PageAllocator+AllocFree.swift, the scavenged bits in
// PageAllocator+Scavenge.swift, the page cache in PageCache.swift and misuse
// reports in PageAllocator+Misuse.swift.
//
// Internally everything is a page number (address >> pageShift): chunk index =
// page >> 9, page-in-chunk = page & 511, so the tree is the same for every page
// size and only the root level's width changes.
import Platform

/// A first-fit page allocator over a sparse 48-bit address space: Go 1.14's
/// radix-tree page allocator (`pageAlloc`).
///
/// It hands out runs of pages at the lowest address that fits, tracks which
/// free pages have been *scavenged* (returned to the system), and never touches
/// the memory it manages — only its own metadata, which it maps itself with
/// Platform's `SystemMemory` and commits as the grown space needs it. So it can
/// manage a heap's pages, a device's memory pool or a file's blocks:
///
/// ```swift
/// // Manage the 4 KiB blocks of a 1 GiB file: "addresses" are byte offsets.
/// var blocks = PageAllocator(pageSize: 4096)
/// blocks.grow(base: 0, bytes: 1 << 30)
/// let (offset, _) = blocks.allocate(pages: 16)!      // 64 KiB at the lowest free offset
/// blocks.free(base: offset, pages: 16)
/// ```
///
/// - Page size: a power of two from 4096 to 16 MiB. The address space is
///   always 2^48 bytes; the summary levels are reserved for all of it (about
///   `2^48 / pageSize / 512 × 9` bytes of address space, 585 MiB at 8 KiB
///   pages, of which only what the grown space needs is committed), so
///   smaller pages would reserve unreasonably much. To manage units smaller
///   than 4096 (disk sectors), scale them: address = unit number × pageSize.
/// - Growth: ``grow(base:bytes:)`` adds whole chunks of 512 pages. Newly grown
///   pages are free and scavenged, as in Go (fresh memory is not yet backed).
/// - Threads: not thread-safe. The owner's lock guards every call, as
///   `mheap.lock` guards Go's `pageAlloc`; a ``PageCache`` taken with
///   ``allocToCache()`` is then used without the lock by the thread that owns it.
/// - Misuse (a bad page count, an unaligned base, a range outside the grown
///   space, freeing a free page) stops the process with a message naming the
///   values, through Platform's `FatalMessage`, in every build configuration.
///
/// The type is `~Copyable`: it owns its metadata mappings and unmaps them in
/// `deinit`, and can be stored inline in memory its owner maps.
public struct PageAllocator: ~Copyable {
    /// log2(pageSize). Constant after init.
    @usableFromInline let pageShift: UInt
    /// Bits of a chunk index: 48 − pageShift − 9. Constant after init.
    @usableFromInline let chunkBits: UInt
    /// Pages in the 48-bit space: 2^(48 − pageShift). Also the "no free page"
    /// value of `searchPage`.
    @usableFromInline let totalPages: UInt

    /// The radix tree. Entries change only under the owner's lock.
    @usableFromInline let summaries: SummaryLevels
    /// The chunks' alloc and scavenged bitmaps. Under the owner's lock.
    @usableFromInline let chunks: ChunkMap
    /// The grown page ranges, sorted and merged. Written by grow only.
    @usableFromInline var grown: GrownRanges

    /// Go's searchAddr, as a page number: every grown page below it is in use.
    /// Lowered by free, flush and grow; raised by allocate and allocToCache to a
    /// (conservative) first free page; `totalPages` when no page is free. It
    /// always names a grown page or `totalPages`, so reading its chunk's leaf
    /// summary never touches uncommitted metadata.
    @usableFromInline var searchPage: UInt
    /// Go's scavAddr, as a page number: the scavenger looks for free,
    /// unscavenged pages below it, walking down; reset to the top of the grown
    /// space when a pass finds nothing.
    @usableFromInline var scavengePage: UInt
    /// Lowest and one-past-highest grown chunk index (Go's start, end); 0, 0
    /// before the first grow.
    @usableFromInline var startChunk: UInt = 0
    @usableFromInline var endChunk: UInt = 0

    /// Counters, kept exact by every operation under the owner's lock.
    /// Pages held by a ``PageCache`` count as in use (neither free nor scavenged).
    @usableFromInline var freeCount: UInt = 0
    /// Free pages whose scavenged bit is set. Always ≤ freeCount.
    @usableFromInline var scavengedCount: UInt = 0
    /// Pages added by grow.
    @usableFromInline var grownCount: UInt = 0

    /// The width of the managed address space, in bits.
    public static var addressBits: Int { 48 }
    /// Pages in a chunk, the unit of growth and of the bitmaps.
    public static var pagesPerChunk: Int { 512 }

    /// Creates an allocator with nothing grown.
    ///
    /// - Parameter pageSize: bytes per page, a power of two in 4096...16 MiB.
    ///   Reserves (without committing) about `2^48 / pageSize / 512 × 9` bytes
    ///   of address space for the summary levels.
    public init(pageSize: Int = 8192) {
        if pageSize < 4096 || pageSize > 1 << 24 || pageSize & (pageSize - 1) != 0 {
            FatalMessage("PageAlloc: init(pageSize: ").decimal(pageSize)
                .text("): the page size must be a power of two from 4096 to 16777216").crash()
        }
        pageShift = UInt(pageSize.trailingZeroBitCount)
        chunkBits = 48 - pageShift - chunkPagesLog
        totalPages = 1 << (48 - pageShift)
        summaries = SummaryLevels(chunkBits: chunkBits)
        chunks = ChunkMap(chunkBits: chunkBits)
        grown = GrownRanges()
        searchPage = 1 << (48 - pageShift)
        scavengePage = 0
    }

    deinit {
        summaries.release()
        chunks.release()
        grown.release()
    }

    /// Bytes per page.
    @inlinable public var pageSize: Int { 1 << Int(pageShift) }
    /// Bytes per chunk (512 pages): the unit ``grow(base:bytes:)`` takes.
    @inlinable public var chunkSize: Int { 512 << Int(pageShift) }
    /// Free pages (not allocated and not held by a page cache).
    @inlinable public var freePages: Int { Int(freeCount) }
    /// Free pages that have been scavenged (reported released and not reused since).
    @inlinable public var scavengedPages: Int { Int(scavengedCount) }
    /// Pages added by ``grow(base:bytes:)``.
    @inlinable public var grownPages: Int { Int(grownCount) }

    /// Adds `[base, base + bytes)` to the managed space, free and scavenged.
    ///
    /// `base` and `bytes` must be multiples of ``chunkSize``, the range must lie
    /// below 2^48 and must not overlap space grown before. Adjacent ranges
    /// join, so a run may be allocated across them. Commits the summaries the
    /// range needs and maps chunk bitmaps; never touches the range itself.
    public mutating func grow(base: UInt, bytes: Int) {
        let chunkMask = UInt(chunkSize - 1)
        if bytes <= 0 || base & chunkMask != 0 || UInt(bytes) & chunkMask != 0 {
            misuseGrow(base, bytes, "): base and bytes must be positive multiples of the chunk size ")
        }
        if base >= 1 << 48 || UInt(bytes) > (1 << 48) - base {
            misuseGrow(base, bytes, "): the range ends beyond the 48-bit address space; chunk size ")
        }
        let lo = base >> pageShift, hi = lo + UInt(bytes) >> pageShift
        if grown.overlaps(lo, hi) {
            misuseGrow(base, bytes, "): the range overlaps space grown before; chunk size ")
        }
        let cLo = lo >> chunkPagesLog, cHi = hi >> chunkPagesLog
        summaries.commit(chunks: Int(cLo), Int(cHi))
        for ci in cLo..<cHi {
            chunks.ensure(ci)
            chunks.alloc(ci).clearAll()
            chunks.scavenged(ci).setAll()
        }
        if grown.count == 0 || cLo < startChunk { startChunk = cLo }
        if cHi > endChunk { endChunk = cHi }
        grown.add(lo, hi)
        let n = hi - lo
        freeCount += n
        scavengedCount += n
        grownCount += n
        // Like a free: new free pages below the hint lower it.
        if lo < searchPage { searchPage = lo }
        update(lo, n, contiguous: true, allocated: false)
    }
}
