import Scavenger
import Testing

/// What the retained goal follows: the most in use over the last 1–2 buckets.
@Suite struct PeakWindowTests {
    let ms = 1_000_000

    @Test func churnKeepsItsPeak() {
        var w = PeakWindow()
        // 16 MiB taken and given back every 28 ms, looked at every 7 ms (the
        // high-water mark between looks is what the heap passes): the peak
        // stands at every look, troughs included.
        for t in 0..<1_000 {
            let phase = (t * 7) % 28
            let peakSinceLastLook = phase < 14 ? 16 << 20 : 4 << 20
            #expect(w.observe(peak: peakSinceLastLook, now: t * 7 * ms) == 16 << 20)
        }
    }

    @Test func aPeakAgesOutAfterOneToTwoBuckets() {
        var w = PeakWindow()
        #expect(w.observe(peak: 1 << 30, now: 0) == 1 << 30)
        // Freed: looks at 1 MiB in use every 100 ms.
        var t = 100
        while t < 1_000 { #expect(w.observe(peak: 1 << 20, now: t * ms) == 1 << 30); t += 100 }
        #expect(w.observe(peak: 1 << 20, now: 1_000 * ms) == 1 << 30)   // the bucket before
        while t < 2_000 { _ = w.observe(peak: 1 << 20, now: t * ms); t += 100 }
        #expect(w.observe(peak: 1 << 20, now: 2_000 * ms) == 1 << 20)   // gone
        #expect(w.peak == 1 << 20)
    }

    @Test func aLongGapForgetsEverything() {
        var w = PeakWindow()
        _ = w.observe(peak: 64 << 20, now: 0)
        #expect(w.observe(peak: 2 << 20, now: 5_000 * ms) == 2 << 20)
    }

    @Test func resetFollowsTheFigureFromNow() {
        var w = PeakWindow()
        _ = w.observe(peak: 1 << 30, now: 0)
        w.reset(to: 8 << 20, now: 10 * ms)
        #expect(w.peak == 8 << 20)
        #expect(w.observe(peak: 4 << 20, now: 20 * ms) == 8 << 20)
        #expect(w.observe(peak: 12 << 20, now: 30 * ms) == 12 << 20)
    }

    @Test func aBucketOfAtLeastOneNanosecond() {
        #expect(PeakWindow(bucketNanoseconds: -5).bucketNanoseconds == 1)
    }
}
