// The word/bit split of a page index in an arena's page bitmaps (`pageInUse`,
// `pageMarks`): 64 pages to a UInt64 word, page `p` in bit `p % 64` of word
// `p / 64`. Inlined everywhere, so each use compiles to the shift and mask it
// names. Page indices are never negative.

/// The bitmap words that hold `pages` pages' bits (`pages` a multiple of 64).
@inlinable @inline(__always)
func bitmapWordCount(pages: Int) -> Int { pages >> 6 }

/// The bitmap word that holds page `page`'s bit.
@inlinable @inline(__always)
func bitmapWord(_ page: Int) -> Int { page >> 6 }

/// Page `page`'s bit in its word, ``bitmapWord(_:)``.
@inlinable @inline(__always)
func bitmapMask(_ page: Int) -> UInt64 { 1 << UInt64(page & 63) }

/// The page of bit `bit` (0..<64) of bitmap word `word`.
@inlinable @inline(__always)
func bitmapPage(word: Int, bit: Int) -> Int { word << 6 | bit }
