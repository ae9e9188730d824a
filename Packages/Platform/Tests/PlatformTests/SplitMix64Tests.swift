import Platform
import Testing

@Suite struct SplitMix64Tests {
    /// The reference sequence for seed 0 (Vigna's splitmix64.c).
    @Test func seedZeroGivesTheReferenceSequence() {
        var g = SplitMix64(seed: 0)
        #expect(g.next() == 0xE220_A839_7B1D_CDAF)
        #expect(g.next() == 0x6E78_9E6A_A1B9_65F4)
        #expect(g.next() == 0x06C4_5D18_8009_454F)
    }

    @Test func belowStaysInRangeAndTheSameSeedRepeats() {
        var a = SplitMix64(seed: 42), b = SplitMix64(seed: 42)
        for n in 1...1000 {
            let x = a.below(n)
            #expect(x >= 0 && x < n)
            #expect(x == b.below(n))
        }
    }
}
