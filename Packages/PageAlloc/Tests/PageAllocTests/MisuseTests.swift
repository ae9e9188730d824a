// Misuse: every bad input stops the process with SIGABRT and a precise
// message (Platform's FatalMessage). Each case runs in a child process (Swift
// Testing exit tests); the closures capture nothing, so each builds its own
// allocator. The space used: one chunk at 0x1000000000 (8 KiB pages).
import Glibc
import PageAlloc
import Testing

func stderrText(_ result: ExitTest.Result?) -> String {
    String(decoding: result?.standardErrorContent ?? [], as: UTF8.self)
}

@Suite struct MisuseTests {
    @Test func doubleFree() async {
        let r = await #expect(processExitsWith: .signal(SIGABRT), observing: [\.standardErrorContent]) {
            var a = PageAllocator()
            a.grow(base: 0x10_0000_0000, bytes: 4 << 20)
            let p = a.allocate(pages: 3)!.base
            a.free(base: p, pages: 3)
            a.free(base: p, pages: 3)
        }
        #expect(stderrText(r).contains("PageAlloc: free(base: 0x1000000000, pages: 3): page 0x1000000000 is not allocated\n"))
    }

    @Test func freeBeyondAnAllocation() async {
        let r = await #expect(processExitsWith: .signal(SIGABRT), observing: [\.standardErrorContent]) {
            var a = PageAllocator()
            a.grow(base: 0x10_0000_0000, bytes: 4 << 20)
            let p = a.allocate(pages: 3)!.base
            a.free(base: p + 8192, pages: 3)
        }
        #expect(stderrText(r).contains("PageAlloc: free(base: 0x1000002000, pages: 3): page 0x1000006000 is not allocated\n"))
    }

    @Test func freeOutsideTheGrownSpace() async {
        let r = await #expect(processExitsWith: .signal(SIGABRT), observing: [\.standardErrorContent]) {
            var a = PageAllocator()
            a.grow(base: 0x10_0000_0000, bytes: 4 << 20)
            a.free(base: 0x20_0000_0000, pages: 1)
        }
        #expect(stderrText(r).contains("PageAlloc: free(base: 0x2000000000, pages: 1): the range [0x2000000000, 0x2000002000) is outside the grown space (1 grown ranges from 0x1000000000 to 0x1000400000)\n"))
    }

    @Test func freeStraddlingTheEndOfTheGrownSpace() async {
        let r = await #expect(processExitsWith: .signal(SIGABRT), observing: [\.standardErrorContent]) {
            var a = PageAllocator()
            a.grow(base: 0x10_0000_0000, bytes: 4 << 20)
            _ = a.allocate(pages: 512)
            a.free(base: 0x10_003F_E000, pages: 2)
        }
        #expect(stderrText(r).contains("PageAlloc: free(base: 0x10003fe000, pages: 2): the range [0x10003fe000, 0x1000402000) is outside the grown space (1 grown ranges from 0x1000000000 to 0x1000400000; nearest [0x1000000000, 0x1000400000))\n"))
    }

    @Test func freeBeforeAnyGrow() async {
        let r = await #expect(processExitsWith: .signal(SIGABRT), observing: [\.standardErrorContent]) {
            var a = PageAllocator()
            a.free(base: 0x4000, pages: 1)
        }
        #expect(stderrText(r).contains("PageAlloc: free(base: 0x4000, pages: 1): the range [0x4000, 0x6000) is outside the grown space (nothing grown)\n"))
    }

    @Test func freeZeroPages() async {
        let r = await #expect(processExitsWith: .signal(SIGABRT), observing: [\.standardErrorContent]) {
            var a = PageAllocator()
            a.grow(base: 0x10_0000_0000, bytes: 4 << 20)
            a.free(base: 0x10_0000_0000, pages: 0)
        }
        #expect(stderrText(r).contains("PageAlloc: free(base: 0x1000000000, pages: 0): the page count must be positive\n"))
    }

    @Test func freeNegativePages() async {
        let r = await #expect(processExitsWith: .signal(SIGABRT), observing: [\.standardErrorContent]) {
            var a = PageAllocator()
            a.grow(base: 0x10_0000_0000, bytes: 4 << 20)
            a.free(base: 0x10_0000_0000, pages: -2)
        }
        #expect(stderrText(r).contains("PageAlloc: free(base: 0x1000000000, pages: -2): the page count must be positive\n"))
    }

    @Test func freeUnalignedBase() async {
        let r = await #expect(processExitsWith: .signal(SIGABRT), observing: [\.standardErrorContent]) {
            var a = PageAllocator()
            a.grow(base: 0x10_0000_0000, bytes: 4 << 20)
            _ = a.allocate(pages: 2)
            a.free(base: 0x10_0000_0100, pages: 1)
        }
        #expect(stderrText(r).contains("PageAlloc: free(base: 0x1000000100, pages: 1): base is not aligned to the page size 8192\n"))
    }

    @Test func allocateZeroPages() async {
        let r = await #expect(processExitsWith: .signal(SIGABRT), observing: [\.standardErrorContent]) {
            var a = PageAllocator()
            a.grow(base: 0x10_0000_0000, bytes: 4 << 20)
            _ = a.allocate(pages: 0)
        }
        #expect(stderrText(r).contains("PageAlloc: allocate(pages: 0): the page count must be positive\n"))
    }

    @Test func allocateNegativePages() async {
        let r = await #expect(processExitsWith: .signal(SIGABRT), observing: [\.standardErrorContent]) {
            var a = PageAllocator()
            _ = a.allocate(pages: -1)
        }
        #expect(stderrText(r).contains("PageAlloc: allocate(pages: -1): the page count must be positive\n"))
    }

    @Test func cacheAllocateZeroPages() async {
        let r = await #expect(processExitsWith: .signal(SIGABRT), observing: [\.standardErrorContent]) {
            var c = PageCache()
            _ = c.allocate(pages: 0)
        }
        #expect(stderrText(r).contains("PageAlloc: PageCache.allocate(pages: 0): the page count must be positive\n"))
    }

    @Test func growUnaligned() async {
        let r = await #expect(processExitsWith: .signal(SIGABRT), observing: [\.standardErrorContent]) {
            var a = PageAllocator()
            a.grow(base: 0x10_0000_2000, bytes: 4 << 20)
        }
        #expect(stderrText(r).contains("PageAlloc: grow(base: 0x1000002000, bytes: 4194304): base and bytes must be positive multiples of the chunk size 0x400000\n"))
    }

    @Test func growZeroBytes() async {
        let r = await #expect(processExitsWith: .signal(SIGABRT), observing: [\.standardErrorContent]) {
            var a = PageAllocator()
            a.grow(base: 0x10_0000_0000, bytes: 0)
        }
        #expect(stderrText(r).contains("PageAlloc: grow(base: 0x1000000000, bytes: 0): base and bytes must be positive multiples of the chunk size 0x400000\n"))
    }

    @Test func growOverlapping() async {
        let r = await #expect(processExitsWith: .signal(SIGABRT), observing: [\.standardErrorContent]) {
            var a = PageAllocator()
            a.grow(base: 0x10_0000_0000, bytes: 8 << 20)
            a.grow(base: 0x10_0040_0000, bytes: 8 << 20)
        }
        #expect(stderrText(r).contains("PageAlloc: grow(base: 0x1000400000, bytes: 8388608): the range overlaps space grown before; chunk size 0x400000\n"))
    }

    @Test func growBeyond48Bits() async {
        let r = await #expect(processExitsWith: .signal(SIGABRT), observing: [\.standardErrorContent]) {
            var a = PageAllocator()
            a.grow(base: 0xFFFF_FFC0_0000, bytes: 8 << 20)
        }
        #expect(stderrText(r).contains("PageAlloc: grow(base: 0xffffffc00000, bytes: 8388608): the range ends beyond the 48-bit address space; chunk size 0x400000\n"))
    }

    @Test func pageSizeNotAPowerOfTwoFrom4KiBTo16MiB() async {
        let r = await #expect(processExitsWith: .signal(SIGABRT), observing: [\.standardErrorContent]) {
            _ = PageAllocator(pageSize: 3000)
        }
        #expect(stderrText(r).contains("PageAlloc: init(pageSize: 3000): the page size must be a power of two from 4096 to 16777216\n"))
    }

    @Test func markScavengedAllocatedPage() async {
        let r = await #expect(processExitsWith: .signal(SIGABRT), observing: [\.standardErrorContent]) {
            var a = PageAllocator()
            a.grow(base: 0x10_0000_0000, bytes: 4 << 20)
            _ = a.allocate(pages: 5)
            a.markScavenged(base: 0x10_0000_6000, pages: 4)
        }
        #expect(stderrText(r).contains("PageAlloc: markScavenged(base: 0x1000006000, pages: 4): page 0x1000006000 is not free\n"))
    }

    @Test func negativeScavenge() async {
        let r = await #expect(processExitsWith: .signal(SIGABRT), observing: [\.standardErrorContent]) {
            var a = PageAllocator()
            _ = a.scavenge(bytes: -5)
        }
        #expect(stderrText(r).contains("PageAlloc: scavenge(bytes: -5): the byte count must not be negative\n"))
    }

    @Test func flushOfAPageFreedBehindTheCache() async {
        let r = await #expect(processExitsWith: .signal(SIGABRT), observing: [\.standardErrorContent]) {
            var a = PageAllocator()
            a.grow(base: 0x10_0000_0000, bytes: 4 << 20)
            var c = a.allocToCache()
            a.free(base: 0x10_0000_0000, pages: 1)   // a page the cache still holds
            a.flush(&c)
        }
        #expect(stderrText(r).contains("PageAlloc: flush: cache at 0x1000000000 holds page 0x1000000000, which is not allocated\n"))
    }

    @Test func pageCacheFreeOfAPageAlreadyInTheCache() async {
        let r = await #expect(processExitsWith: .signal(SIGABRT), observing: [\.standardErrorContent]) {
            var a = PageAllocator()
            a.grow(base: 0x10_0000_0000, bytes: 4 << 20)
            var c = a.allocToCache()
            let p = c.allocate(pages: 2)!.base
            _ = c.free(base: p, pages: 2)
            _ = c.free(base: p + 8192, pages: 1)
        }
        #expect(stderrText(r).contains("PageAlloc: PageCache.free(base: 0x1000002000, pages: 1): a page of the run is already free in the cache\n"))
    }
}
