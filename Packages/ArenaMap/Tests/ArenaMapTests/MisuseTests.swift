import ArenaMap
import Glibc
import Platform
import Testing

/// Misuse stops the process with a message that names the values (FatalMessage).
@Suite struct MisuseTests {
    func stderr(_ result: ExitTest.Result?) -> String {
        String(decoding: result?.standardErrorContent ?? [], as: UTF8.self)
    }

    @Test func setSpanOfAnUnmappedAddress() async {
        let r = await #expect(processExitsWith: .signal(SIGABRT), observing: [\.standardErrorContent]) {
            let map = try! ArenaMap(space: FakeAddressSpace())
            map.setSpan(base: 0x1000_0000_0000, pages: 1, span: nil)
        }
        #expect(stderr(r).contains("ArenaMap: setSpan of unmapped address 0x100000000000\n"))
    }

    @Test func setPageInUseTwice() async {
        let r = await #expect(processExitsWith: .signal(SIGABRT), observing: [\.standardErrorContent]) {
            let map = try! ArenaMap(space: FakeAddressSpace())
            let a = try! map.reserveArenas(bytes: 1, node: 0).get()
            map.setPageInUse(a + 8192)
            map.setPageInUse(a + 8192)
        }
        #expect(stderr(r).contains("ArenaMap: setPageInUse of 0xc000002000, already in use\n"))
    }

    @Test func clearPageInUseThatIsClear() async {
        let r = await #expect(processExitsWith: .signal(SIGABRT), observing: [\.standardErrorContent]) {
            let map = try! ArenaMap(space: FakeAddressSpace())
            let a = try! map.reserveArenas(bytes: 1, node: 0).get()
            map.clearPageInUse(a)
        }
        #expect(stderr(r).contains("ArenaMap: clearPageInUse of 0xc000000000, not in use\n"))
    }

    @Test func unalignedSetSpan() async {
        let r = await #expect(processExitsWith: .signal(SIGABRT), observing: [\.standardErrorContent]) {
            let map = try! ArenaMap(space: FakeAddressSpace())
            let a = try! map.reserveArenas(bytes: 1, node: 0).get()
            map.setSpan(base: a + 100, pages: 1, span: nil)
        }
        #expect(stderr(r).contains("ArenaMap: setSpan of 0xc000000064, not aligned to the page size 8192\n"))
    }

    @Test func aPageSizeNotAPowerOfTwoFrom4To128KiBCrashes() async {
        let r = await #expect(processExitsWith: .signal(SIGABRT), observing: [\.standardErrorContent]) {
            _ = try! ArenaMap(space: FakeAddressSpace(), pageSize: 12288)
        }
        #expect(stderr(r).contains("ArenaMap: page size 12288 is not a power of two from 4096 to 131072\n"))
    }

    @Test func allocNeedsZeroOfAnUnmappedRange() async {
        let r = await #expect(processExitsWith: .signal(SIGABRT), observing: [\.standardErrorContent]) {
            let map = try! ArenaMap(space: FakeAddressSpace())
            let a = try! map.reserveArenas(bytes: 1, node: 0).get()
            // Runs off the end of the only arena.
            _ = map.allocNeedsZero(base: a + UInt(ArenaLayout.heapArenaBytes) - 8192, bytes: 16384)
        }
        #expect(stderr(r).contains("ArenaMap: allocNeedsZero of unmapped address 0xc004000000\n"))
    }

    @Test func reserveZeroBytes() async {
        let r = await #expect(processExitsWith: .signal(SIGABRT), observing: [\.standardErrorContent]) {
            let map = try! ArenaMap(space: FakeAddressSpace())
            _ = map.reserveArenas(bytes: 0, node: 0)
        }
        #expect(stderr(r).contains("ArenaMap: reserveArenas of 0 bytes for node 0\n"))
    }

    @Test func arenaAtOutOfRange() async {
        let r = await #expect(processExitsWith: .signal(SIGABRT), observing: [\.standardErrorContent]) {
            let map = try! ArenaMap(space: FakeAddressSpace())
            _ = map.arena(at: 0)
        }
        #expect(stderr(r).contains("ArenaMap: arena(at: 0) with 0 arenas\n"))
    }
}
