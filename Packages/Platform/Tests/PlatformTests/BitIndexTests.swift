import Platform
import Testing

/// ``BitIndex`` against bit-by-bit definitions.
@Suite struct BitIndexTests {
    @Test func eachObjectHasOneBitOfOneWordAndTheWordsCoverTheCount() {
        var seen = Set<[Int]>()
        for index in 0..<300 {
            let word = BitIndex.word(index), mask = BitIndex.mask(index)
            #expect(word == index / 64 && mask.nonzeroBitCount == 1 && mask.trailingZeroBitCount == index % 64)
            #expect(BitIndex.startsWord(index) == (index % 64 == 0))
            #expect(BitIndex.nextWordStart(index) == (index / 64 + 1) * 64)
            #expect(seen.insert([word, mask.trailingZeroBitCount]).inserted, "index \(index) shares a bit")
            #expect(BitIndex.words(index) == (index + 63) / 64)
        }
    }

    @Test func theMaskBelowALimitHoldsExactlyTheWordsObjectsBelowIt() {
        for word in 0..<3 {
            for limit in 0...(4 * 64) {
                var expected: UInt64 = 0
                for bit in 0..<64 where word * 64 + bit < limit { expected |= 1 << UInt64(bit) }
                #expect(BitIndex.mask(below: limit, inWord: word) == expected, "word \(word) limit \(limit)")
            }
        }
    }
}
