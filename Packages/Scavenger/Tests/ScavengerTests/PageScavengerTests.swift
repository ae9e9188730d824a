// The walk over a PageAllocator (fake addresses: nothing is touched) with a
// recording releaser: highest first, never an allocated page, whole huge pages
// first, Go's extension rule, the cursor.
import PageAlloc
import Scavenger
import Platform
import Testing

struct Recorder: PageReleaser {
    var ranges: [(base: UInt, bytes: Int)] = []
    mutating func release(base: UInt, bytes: Int) { ranges.append((base, bytes)) }
}

let base: UInt = 0x10_0000_0000
let page = 8192
let huge = HugePagePolicy(hugePageSize: 2 << 20)     // 256 pages of 8 KiB

@Suite struct PageScavengerTests {
    @Test func releasesFromTheTopDownAndNeverAnAllocatedPage() {
        var pages = PageAllocator(pageSize: page)
        pages.grow(base: base, bytes: 16 << 20)
        _ = pages.allocate(pages: 2048)                     // everything, then free a pattern
        var allocated = Set<UInt>()
        for i in 0..<2048 {
            let p = base + UInt(i * page)
            if i % 3 == 0 || (i / 100) % 2 == 0 { allocated.insert(p) } else { pages.free(base: p, pages: 1) }
        }
        let free = pages.freePages
        var s = PageScavenger()
        var r = Recorder()
        let released = s.scavenge(&pages, bytes: 1 << 48, hugePages: .none, releaser: &r)
        #expect(released == free * page)
        #expect(pages.scavengedPages == free)
        var previous = UInt.max
        for range in r.ranges {
            #expect(range.base < previous)                   // top down
            previous = range.base
            var p = range.base
            while p < range.base + UInt(range.bytes) {
                #expect(!allocated.contains(p), "released allocated page \(p)")
                p += UInt(page)
            }
        }
    }

    @Test func wholeFreeHugePagesGoFirstAndWhole() {
        var pages = PageAllocator(pageSize: page)
        pages.grow(base: base, bytes: 8 << 20)               // 4 huge pages, 1024 pages
        _ = pages.allocate(pages: 1024)
        // Huge page 0: all free. 1: one live page in the middle. 2: all free. 3: live at its top.
        pages.free(base: base, pages: 256)
        pages.free(base: base + UInt(256 * page), pages: 100)
        pages.free(base: base + UInt(357 * page), pages: 155)
        pages.free(base: base + UInt(512 * page), pages: 256)
        pages.free(base: base + UInt(768 * page), pages: 200)
        var s = PageScavenger()
        var r = Recorder()
        // Ask for 1 MiB: one whole huge page (the highest wholly free one, #2).
        #expect(s.scavenge(&pages, bytes: 1 << 20, hugePages: huge, releaser: &r) == 2 << 20)
        #expect(r.ranges.count == 1 && r.ranges[0].base == base + UInt(512 * page) && r.ranges[0].bytes == 2 << 20)
        // Next 2 MiB: the other whole one (#0), still no partial huge page touched.
        r.ranges = []
        #expect(s.scavenge(&pages, bytes: 2 << 20, hugePages: huge, releaser: &r) == 2 << 20)
        #expect(r.ranges.map(\.base) == [base])
        // Then only partial ones are left: they go in the second pass.
        r.ranges = []
        let rest = s.scavenge(&pages, bytes: 1 << 48, hugePages: huge, releaser: &r)
        #expect(rest == (200 + 100 + 155) * page)
        #expect(pages.scavengedPages == pages.freePages)
    }

    @Test func aPieceFromARunIsExtendedDownToAHugePageBoundary() {
        var pages = PageAllocator(pageSize: page)
        pages.grow(base: base, bytes: 4 << 20)
        _ = pages.allocate(pages: 512)
        // A free run [100, 400) crossing the boundary at 256; a live page at 400.
        pages.free(base: base + UInt(100 * page), pages: 300)
        var s = PageScavenger()
        var r = Recorder()
        // No whole huge page is free. Asking for 10 pages from the top of the
        // run would start at 390; the huge page holding 390 starts at 256,
        // inside the run, so the piece starts there instead.
        #expect(s.scavenge(&pages, bytes: 10 * page, hugePages: huge, releaser: &r) == 144 * page)
        #expect(r.ranges.map(\.base) == [base + UInt(256 * page)])
        // Without huge pages the piece is exactly what was asked.
        var pages2 = PageAllocator(pageSize: page)
        pages2.grow(base: base, bytes: 4 << 20)
        _ = pages2.allocate(pages: 512)
        pages2.free(base: base + UInt(100 * page), pages: 300)
        var s2 = PageScavenger()
        r.ranges = []
        #expect(s2.scavenge(&pages2, bytes: 10 * page, hugePages: .none, releaser: &r) == 10 * page)
        #expect(r.ranges.map(\.base) == [base + UInt(390 * page)])
    }

    @Test func theCursorContinuesBelowAndWrapsOnce() {
        var pages = PageAllocator(pageSize: page)
        pages.grow(base: base, bytes: 4 << 20)
        var s = PageScavenger()
        var r = Recorder()
        _ = s.scavenge(&pages, bytes: 1 << 48, hugePages: .none, releaser: &r)  // all (fresh space is scavenged already)
        #expect(r.ranges.isEmpty)
        let a = pages.allocate(pages: 512)!
        #expect(a.scavengedBytes == 4 << 20)                // counted back
        pages.free(base: a.base, pages: 512)
        #expect(s.scavenge(&pages, bytes: 8 * page, hugePages: .none, releaser: &r) == 8 * page)
        #expect(s.scavenge(&pages, bytes: 8 * page, hugePages: .none, releaser: &r) == 8 * page)
        #expect(r.ranges.map(\.base) == [base + UInt(504 * page), base + UInt(496 * page)])
        s.resetCursor()
        pages.free(base: pages.allocate(pages: 1)!.base, pages: 1)   // no-op churn
        #expect(s.scavenge(&pages, bytes: 1 << 48, hugePages: .none, releaser: &r) == 496 * page)
        #expect(pages.scavengedPages == 512)
    }

    @Test func madviseReleaserZeroesWithDontNeed() {
        let bytes = 1 << 20
        guard case .success(let p) = SystemMemory.mapAnonymous(bytes: bytes) else { Issue.record("mmap"); return }
        defer { _ = SystemMemory.unmap(p, bytes: bytes) }
        p.initializeMemory(as: UInt8.self, repeating: 0xAB, count: bytes)
        var r = MadviseReleaser(advice: .dontNeed)
        r.release(base: UInt(bitPattern: p) + 65536, bytes: 65536)
        #expect(r.releasedBytes == 65536 && r.failures == 0)
        #expect(p.load(fromByteOffset: 65535, as: UInt8.self) == 0xAB)
        #expect(p.load(fromByteOffset: 65536, as: UInt8.self) == 0)
        #expect(p.load(fromByteOffset: 131071, as: UInt8.self) == 0)
        #expect(p.load(fromByteOffset: 131072, as: UInt8.self) == 0xAB)
        var f = MadviseReleaser(advice: .free)
        f.release(base: UInt(bitPattern: p), bytes: 65536)
        #expect(f.failures == 0)
    }
}
