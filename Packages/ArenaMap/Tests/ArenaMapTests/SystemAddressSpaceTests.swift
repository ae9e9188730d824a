import ArenaMap
import Glibc
import Platform
import Testing

@Suite struct SystemAddressSpaceTests {
    @Test func aRealArenaIsAlignedCommittedZeroedAndWritable() throws {
        let map = try ArenaMap(addressSpaceLimit: 4 * arenaBytes)
        var cursor = ArenaCursor()
        let g = try map.grow(&cursor, bytes: 2 * MiB, node: 0).get()
        #expect(g.base % UInt(arenaBytes) == 0)
        #expect(g.base < 1 << 47)
        #expect(map.isMapped(g.base) && map.nodeOf(g.base) == 0)
        let p = try #require(UnsafeMutableRawPointer(bitPattern: g.base))
        // Fresh memory reads as zero and takes writes.
        #expect(p.load(fromByteOffset: 2 * MiB - 8, as: UInt.self) == 0)
        for i in stride(from: 0, to: 2 * MiB, by: 4096) { p.storeBytes(of: UInt(i), toByteOffset: i, as: UInt.self) }
        #expect(p.load(fromByteOffset: 8192, as: UInt.self) == 8192)
        #expect(p.load(fromByteOffset: MiB, as: UInt.self) == UInt(MiB))
        // The span map works on real addresses.
        map.setSpan(base: g.base, pages: 2 * MiB / 8192, span: fakeSpan(4))
        #expect(map.spanOf(g.base + UInt(MiB)) == fakeSpan(4))
        #expect(map.spanOf(g.base + UInt(2 * MiB)) == nil)
    }

    @Test func bindingToNodeZeroWorksBeforeFirstTouch() throws {
        let map = try ArenaMap()
        let r = map.reserveArenas(bytes: arenaBytes, node: 0, policy: .preferred)
        if case .failure(.bindFailed(_, let e)) = r, e.code == ENOSYS || e.code == EPERM {
            // mbind is filtered in some containers; the failure path is what matters then.
            return
        }
        let base = try r.get()
        try map.space.commit(base, bytes: MiB).get()
        UnsafeMutableRawPointer(bitPattern: base)!.storeBytes(of: 7, as: Int.self)
        #expect(map.nodeOf(base) == 0)
        // A node far outside any machine is refused without a system call.
        let bad = map.space.bind(base, bytes: MiB, node: 5000, policy: .bind)
        #expect(bad.error?.code == EINVAL)
    }

    @Test func garbageLookupsOnARealMapDoNotCrash() throws {
        let map = try ArenaMap()
        _ = try map.reserveArenas(bytes: arenaBytes, node: 0).get()
        for p: UInt in [0, 1, (1 << 47) - 1, 1 << 48, UInt.max, 0xffff_ffff_ff60_0000] {
            #expect(map.spanOf(p) == nil)
        }
    }
}
