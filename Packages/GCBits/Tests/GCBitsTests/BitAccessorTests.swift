import Glibc
import GCBits
import Platform
import Testing

@Suite struct BitAccessorTests {
    @Test func byteCountRoundsUpToWholeWords() {
        #expect(GCBits.byteCount(forElements: 0) == 0)
        #expect(GCBits.byteCount(forElements: 1) == 8)
        #expect(GCBits.byteCount(forElements: 64) == 8)
        #expect(GCBits.byteCount(forElements: 65) == 16)
        #expect(GCBits.byteCount(forElements: 1024) == 128)
        #expect(GCBits.byteCount(forElements: GCBitsArenas.maxElements) == GCBitsArenas.arenaCapacity)
    }

    @Test func bytepAndBitpAddressBitN() {
        let scratch = Scratch(bytes: 64)
        let bits = scratch.bits
        for n in 0..<512 {
            let (p, mask) = bits.bitp(n)
            #expect(p == bits.bytep(n / 8))
            #expect(UnsafeMutableRawPointer(p) == scratch.base + n / 8)
            #expect(mask == UInt8(1) << UInt8(n % 8))
        }
    }

    @Test(arguments: [1, 7, 64, 100, 1000, 4096])
    func randomSetClearMatchesReference(nelems: Int) {
        let scratch = Scratch(bytes: GCBits.byteCount(forElements: nelems))
        let bits = scratch.bits
        var reference = [Bool](repeating: false, count: GCBits.byteCount(forElements: nelems) * 8)
        var rng = SplitMix64(seed: UInt64(nelems))
        for step in 0..<(nelems * 4) {
            let n = Int.random(in: 0..<nelems, using: &rng)
            switch step % 4 {
            case 0, 1:
                bits.set(n); reference[n] = true
            case 2:
                bits.clear(n); reference[n] = false
            default:
                let newly = bits.setAtomic(n)
                #expect(newly == !reference[n])
                reference[n] = true
            }
        }
        #expect(expectMatches(bits, reference))
        bits.clearAll(nelems)
        #expect(expectMatches(bits, [Bool](repeating: false, count: reference.count)))
    }

    @Test func clearAllClearsWholeWordsOnly() {
        let scratch = Scratch(bytes: 32)
        scratch.base.initializeMemory(as: UInt8.self, repeating: 0xFF, count: 32)
        scratch.bits.clearAll(65)  // two words
        for i in 0..<16 { #expect(scratch.bits.bytep(i).pointee == 0) }
        for i in 16..<32 { #expect(scratch.bits.bytep(i).pointee == 0xFF) }
    }

    @Test func popcountCountsOnlyTheFirstNelems() {
        let total = 1024
        let scratch = Scratch(bytes: total / 8)
        var reference = [Bool](repeating: false, count: total)
        var rng = SplitMix64(seed: 42)
        for n in 0..<total where Bool.random(using: &rng) {
            scratch.bits.set(n); reference[n] = true
        }
        var expected = 0
        for nelems in 0...total {
            #expect(scratch.bits.popcount(nelems) == expected, "nelems \(nelems)")
            if nelems < total, reference[nelems] { expected += 1 }
        }
        // All ones and all zeros.
        scratch.base.initializeMemory(as: UInt8.self, repeating: 0xFF, count: total / 8)
        #expect(scratch.bits.popcount(total) == total)
        #expect(scratch.bits.popcount(63) == 63)
        #expect(scratch.bits.popcount(65) == 65)
        scratch.bits.clearAll(total)
        #expect(scratch.bits.popcount(total) == 0)
    }

    @Test func load64MatchesReferenceAtEveryByteOffset() {
        let total = 2048
        let scratch = Scratch(bytes: total / 8)
        var reference = [Bool](repeating: false, count: total)
        var rng = SplitMix64(seed: 7)
        for n in 0..<total where rng.next() % 3 == 0 {
            scratch.bits.set(n); reference[n] = true
        }
        for n in stride(from: 0, through: total - 64, by: 8) {
            var expected: UInt64 = 0
            for k in 0..<64 where reference[n + k] { expected |= 1 << UInt64(k) }
            #expect(scratch.bits.load64(atBit: n) == expected, "bit \(n)")
            // Go's refillAllocCache: bytes assembled least significant first.
            var go: UInt64 = 0
            for b in 0..<8 { go |= UInt64(scratch.bits.bytep(n / 8 + b).pointee) << UInt64(8 * b) }
            #expect(scratch.bits.load64(atBit: n) == go)
            if n % 64 == 0 {
                #expect(scratch.bits.atomicLoadWord(index: n / 64) == expected)
            }
        }
    }

    @Test func allocCacheIsTheComplementOfLoad64() {
        // The heap's allocCache: 1 = free; its trailing zero count finds the next free object.
        let scratch = Scratch(bytes: 16)
        for n in 0..<10 { scratch.bits.set(n) }   // objects 0..<10 allocated
        scratch.bits.set(12)
        let cache = ~scratch.bits.load64(atBit: 0)
        #expect(cache.trailingZeroBitCount == 10)
        #expect((cache >> 11).trailingZeroBitCount == 0)   // object 11 free
        #expect((cache >> 12) & 1 == 0)                     // object 12 allocated
    }

    @Test func atomicExchangeWordReturnsAndReplaces() {
        let scratch = Scratch(bytes: 24)
        scratch.bits.set(64); scratch.bits.set(127); scratch.bits.set(3)
        #expect(scratch.bits.atomicExchangeWord(index: 1, with: 0) == UInt64(1) | UInt64(1) << 63)
        #expect(!scratch.bits.isSet(64) && !scratch.bits.isSet(127) && scratch.bits.isSet(3))
        #expect(scratch.bits.atomicExchangeWord(index: 2, with: 0b101) == 0)
        #expect(scratch.bits.isSet(128) && !scratch.bits.isSet(129) && scratch.bits.isSet(130))
    }

    @Test func unalignedBaseIsAFatalError() async {
        let result = await #expect(processExitsWith: .signal(SIGABRT), observing: [\.standardErrorContent]) {
            let p = UnsafeMutableRawPointer.allocate(byteCount: 64, alignment: 8)
            _ = GCBits(p + 3)
        }
        let text = String(decoding: result?.standardErrorContent ?? [], as: UTF8.self)
        #expect(text.contains("GCBits: bitmap base 0x"))
        #expect(text.contains(" is not 8-byte aligned\n"))
    }
}
