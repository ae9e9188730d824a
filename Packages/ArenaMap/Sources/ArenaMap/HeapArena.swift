import Platform
import Synchronization

/// A handle to one arena's metadata (Go's `heapArena`): the span map, the
/// `pageInUse` and `pageMarks` bitmaps, `zeroedBase` and the arena's node.
///
/// The metadata lives in memory the ``ArenaMap`` maps with `SystemMemory`
/// (never on the Swift heap) and stays mapped, at the same address, until the map
/// is destroyed; a `HeapArena` is only a pointer to it and is valid as long as the
/// map is. Get one from ``ArenaMap/arenaOf(_:)``, ``ArenaMap/pageIndexOf(_:)`` or
/// ``ArenaMap/arena(at:)``.
///
/// Layout of the metadata block (offsets in bytes, `P` = pages per arena):
///
///     0        base        UInt    the arena's first address. Immutable.
///     8        zeroedBase  UInt    see below. Atomic (CAS to raise), any thread.
///     16       node        Int32   NUMA node the arena was reserved for. Immutable.
///     20       pageShift   Int32   log₂ of the heap page size. Immutable.
///     64       pageInUse   P/64 × UInt64, atomic words
///     64+P/8   pageMarks   P/64 × UInt64, atomic words
///     64+P/4   spans       P × UInt, atomic words
///
/// "Immutable" fields are written before the block is published in the index
/// (a release store) and never again, so any thread that found the block through
/// the index (an acquire load) reads them with plain loads.
public struct HeapArena: @unchecked Sendable, Equatable {
    /// The metadata block. Never nil; stays mapped while the owning map lives.
    @usableFromInline let _raw: UnsafeMutableRawPointer

    @inlinable init(_raw: UnsafeMutableRawPointer) { self._raw = _raw }

    @inlinable static var _headerBytes: Int { 64 }

    /// Bytes of a metadata block for pages of `1 << pageShift` bytes, rounded up to
    /// whole 4 KiB pages.
    @inlinable static func _metadataBytes(pageShift: Int) -> Int {
        let pages = ArenaLayout.heapArenaBytes >> pageShift
        let bytes = _headerBytes + pages / 4 + pages * MemoryLayout<UInt>.stride
        return (bytes + 4095) & ~4095
    }

    /// Fills in the immutable header of a fresh (zeroed) block. Before publication.
    @usableFromInline static func _initialize(_ raw: UnsafeMutableRawPointer, base: UInt, node: Int32, pageShift: Int) {
        raw.storeBytes(of: base, toByteOffset: 0, as: UInt.self)
        raw.storeBytes(of: 0, toByteOffset: 8, as: UInt.self)
        raw.storeBytes(of: node, toByteOffset: 16, as: Int32.self)
        raw.storeBytes(of: Int32(pageShift), toByteOffset: 20, as: Int32.self)
    }

    // MARK: Immutable facts

    /// The arena's first address (a multiple of ``ArenaLayout/heapArenaBytes``).
    @inlinable public var base: UInt { _raw.load(fromByteOffset: 0, as: UInt.self) }

    /// The NUMA node the arena was reserved for.
    @inlinable public var node: Int32 { _raw.load(fromByteOffset: 16, as: Int32.self) }

    @inlinable var _pageShift: Int { Int(_raw.load(fromByteOffset: 20, as: Int32.self)) }

    /// Heap pages in the arena (8192 with 8 KiB pages).
    @inlinable public var pageCount: Int { ArenaLayout.heapArenaBytes >> _pageShift }

    /// 64-bit words in each of `pageInUse` and `pageMarks`.
    @inlinable public var bitmapWords: Int { BitIndex.words(pageCount) }

    // MARK: zeroedBase

    /// The offset, in bytes from ``base``, below which the arena's memory may have
    /// been used: every page at or above it is still as the kernel handed it out
    /// (zero). It only grows. Go's `heapArena.zeroedBase`.
    ///
    /// Read and raised atomically by ``ArenaMap/allocNeedsZero(base:bytes:)``, which
    /// needs no lock, only pages the caller owns exclusively (as
    /// Go's does for its per-P page cache).
    @inlinable public var zeroedBase: Int {
        Int(_zeroedBase.pointee.load(ordering: .relaxed))
    }

    @inlinable var _zeroedBase: UnsafeMutablePointer<Atomic<UInt>> {
        (_raw + 8).assumingMemoryBound(to: Atomic<UInt>.self)
    }

    // MARK: Bitmaps

    @inlinable var _pageInUse: UnsafeMutablePointer<Atomic<UInt64>> {
        (_raw + HeapArena._headerBytes).assumingMemoryBound(to: Atomic<UInt64>.self)
    }

    @inlinable var _pageMarks: UnsafeMutablePointer<Atomic<UInt64>> {
        (_raw + HeapArena._headerBytes + (pageCount >> 3)).assumingMemoryBound(to: Atomic<UInt64>.self)
    }

    @inlinable var _spans: UnsafeMutablePointer<Atomic<UInt>> {
        (_raw + HeapArena._headerBytes + (pageCount >> 2)).assumingMemoryBound(to: Atomic<UInt>.self)
    }

    @inlinable func _checkPage(_ page: Int) {
        if _slowPath(page < 0 || page >= pageCount) {
            FatalMessage("ArenaMap: page index ").decimal(page).text(" outside arena ")
                .hex(base).text(" of ").decimal(pageCount).text(" pages").crash()
        }
    }

    @inlinable func _checkWord(_ word: Int) {
        if _slowPath(word < 0 || word >= bitmapWords) {
            FatalMessage("ArenaMap: bitmap word ").decimal(word).text(" outside arena ")
                .hex(base).text(" of ").decimal(bitmapWords).text(" words").crash()
        }
    }

    /// The span recorded for page `page` of the arena (nil: none). Lock-free.
    @inlinable public func span(atPage page: Int) -> UnsafeMutableRawPointer? {
        _checkPage(page)
        return UnsafeMutableRawPointer(bitPattern: _spans[page].load(ordering: .acquiring))
    }

    /// Whether page `page` is the first page of an in-use span (`pageInUse`). Lock-free.
    @inlinable public func isPageInUse(_ page: Int) -> Bool {
        _checkPage(page)
        return _pageInUse[BitIndex.word(page)].load(ordering: .relaxed) & BitIndex.mask(page) != 0
    }

    /// Whether page `page` is marked in `pageMarks`. Lock-free.
    @inlinable public func isPageMarked(_ page: Int) -> Bool {
        _checkPage(page)
        return _pageMarks[BitIndex.word(page)].load(ordering: .relaxed) & BitIndex.mask(page) != 0
    }

    /// Atomically sets `mask`'s bits in `pageMarks` word `word` (as returned by
    /// ``ArenaMap/pageIndexOf(_:)``); returns whether any of them was clear before.
    /// Safe from any number of threads at once (parallel markers).
    @inlinable @discardableResult
    public func setPageMark(word: Int, mask: UInt64) -> Bool {
        _checkWord(word)
        return _pageMarks[word].bitwiseOr(mask, ordering: .relaxed).oldValue & mask != mask
    }

    /// The `pageInUse` word `word`: bit `i` is page `word * 64 + i`. Atomic load.
    @inlinable public func pageInUseWord(_ word: Int) -> UInt64 {
        _checkWord(word)
        return _pageInUse[word].load(ordering: .relaxed)
    }

    /// The `pageMarks` word `word`. Atomic load.
    @inlinable public func pageMarksWord(_ word: Int) -> UInt64 {
        _checkWord(word)
        return _pageMarks[word].load(ordering: .relaxed)
    }

    /// `pageInUse &^ pageMarks` for word `word`: first pages of in-use spans that
    /// no marker reached — the spans the reclaimer may free whole.
    @inlinable public func inUseUnmarkedWord(_ word: Int) -> UInt64 {
        pageInUseWord(word) & ~pageMarksWord(word)
    }

    /// Calls `body` with the page index and recorded span of every in-use,
    /// unmarked span that starts in reclaimer chunk `chunk` of this arena (pages
    /// `chunk * 512 ..< (chunk + 1) * 512`, ``ArenaLayout/pagesPerReclaimerChunk``),
    /// lowest page first. The bitmaps are read atomically, word by word, so `body`
    /// may sweep spans (and take locks) as it goes; it sees each word as it
    /// was when the word was read. Go's `reclaimChunk` inner loop.
    @inlinable
    public func forEachInUseUnmarkedSpan(
        inChunk chunk: Int, _ body: (_ page: Int, _ span: UnsafeMutableRawPointer?) throws -> Void
    ) rethrows {
        let wordsPerChunk = BitIndex.words(ArenaLayout.pagesPerReclaimerChunk)
        let first = chunk * wordsPerChunk
        if _slowPath(chunk < 0 || first + wordsPerChunk > bitmapWords) {
            FatalMessage("ArenaMap: reclaimer chunk ").decimal(chunk).text(" outside arena ")
                .hex(base).crash()
        }
        for word in first..<first + wordsPerChunk {
            var bits = inUseUnmarkedWord(word)
            while bits != 0 {
                let page = BitIndex.firstBit(ofWord: word) | bits.trailingZeroBitCount
                bits &= bits - 1
                try body(page, span(atPage: page))
            }
        }
    }

    /// Clears every bit of `pageMarks` (at the start of a marking cycle, while no
    /// marker runs). Go's `gcResetMarkState` loop.
    @inlinable public func clearPageMarks() {
        for word in 0..<bitmapWords { _pageMarks[word].store(0, ordering: .relaxed) }
    }

    public static func == (a: HeapArena, b: HeapArena) -> Bool { a._raw == b._raw }
}
