import ArenaMap
import Platform
import Testing

@Suite struct HintTests {
    @Test func reservationsFollowHintsUpwardAndContiguously() throws {
        let fake = FakeAddressSpace()
        let map = try ArenaMap(space: fake)
        #expect(map.hints.count == 128)
        #expect(map.hints.first == 0x00c0_0000_0000)
        #expect(map.hints.last == 0x7fc0_0000_0000)
        #expect(zip(map.hints, map.hints.dropFirst()).allSatisfy { $0 + 0x0100_0000_0000 == $1 })

        let a = try map.reserveArenas(bytes: 1, node: 0).get()
        #expect(a == firstHint)
        let b = try map.reserveArenas(bytes: arenaBytes, node: 0).get()
        #expect(b == a + UInt(arenaBytes))
        let c = try map.reserveArenas(bytes: 2 * arenaBytes + 1, node: 0).get()
        #expect(c == b + UInt(arenaBytes))
        #expect(map.mappedBytes == 5 * arenaBytes)
        #expect(map.arenaCount == 5)
        #expect(map.hints.first == c + UInt(3 * arenaBytes))
        #expect(fake.isReserved(a..<a + UInt(5 * arenaBytes)) && fake.reservedBytes == 5 * arenaBytes)
        for i in 0..<5 { #expect(map.arena(at: i).base == a + UInt(i * arenaBytes)) }
    }

    @Test func aTakenHintIsDroppedAndTheNextOneUsed() throws {
        let fake = FakeAddressSpace()
        let map = try ArenaMap(space: fake)
        fake.occupy(firstHint + 0x1000..<firstHint + 0x2000)
        let a = try map.reserveArenas(bytes: arenaBytes, node: 0).get()
        #expect(a == firstHint + 0x0100_0000_0000)
        #expect(map.hints.first == a + UInt(arenaBytes))
        #expect(map.hints.count == 127)
        // The misplaced reservation was given back.
        #expect(fake.reservations == [a..<a + UInt(arenaBytes)])
    }

    @Test func withoutHintsItReservesAnywhereAlignedAndAddsAHint() throws {
        let fake = FakeAddressSpace()
        let map = try ArenaMap(space: fake, hintCount: 0)
        #expect(map.hints.isEmpty)
        let a = try map.reserveArenas(bytes: 3 * arenaBytes, node: 0).get()
        #expect(a % UInt(arenaBytes) == 0)
        #expect(a < 1 << 47)
        // Over-reserved by an arena and trimmed at both ends: exactly the arenas remain.
        #expect(fake.reservations == [a..<a + UInt(3 * arenaBytes)])
        #expect(map.hints == [a + UInt(3 * arenaBytes)])
        // The added hint is honoured next time when free: the fake places
        // top-down, so the three arenas end one arena below its top and the
        // hint's arena is free.
        try #require(a + UInt(4 * arenaBytes) <= fake.highest, "a = \(a): no room above for the hinted arena")
        let b = try map.reserveArenas(bytes: arenaBytes, node: 0).get()
        #expect(b == a + UInt(3 * arenaBytes))
        #expect(fake.reservations == [a..<a + UInt(3 * arenaBytes), b..<b + UInt(arenaBytes)])
    }

    @Test func hintsThatWouldLeaveTheIndexAreDroppedAndOutOfRangeSpaceIsRefused() throws {
        // One hint just below 2^48: 128 MiB from it would cross 2^48.
        let fake = FakeAddressSpace(highest: 1 << 50)
        let map = try ArenaMap(space: fake, firstHint: (1 << 48) - UInt(arenaBytes), hintCount: 1)
        let r = map.reserveArenas(bytes: 2 * arenaBytes, node: 0)
        guard case .failure(.outOfRange(let base, let bytes)) = r else {
            Issue.record("expected outOfRange, got \(r)"); return
        }
        #expect(base >= 1 << 48)
        #expect(bytes == 2 * arenaBytes)
        #expect(map.hints.isEmpty)
        #expect(fake.reservations.isEmpty)
        #expect(map.arenaCount == 0 && map.mappedBytes == 0)
    }

    @Test func theAddressSpaceLimitIsEnforced() throws {
        let fake = FakeAddressSpace()
        let map = try ArenaMap(space: fake, addressSpaceLimit: 2 * arenaBytes)
        #expect(map.reserveArenas(bytes: arenaBytes + 1, node: 0).value == firstHint)
        #expect(map.reserveArenas(bytes: 1, node: 0).error
                == .addressSpaceLimit(requested: 1, mapped: 2 * arenaBytes, limit: 2 * arenaBytes))
        #expect(map.reserveArenas(bytes: Int.max, node: 0).error
                == .addressSpaceLimit(requested: Int.max, mapped: 2 * arenaBytes, limit: 2 * arenaBytes))
        #expect(map.mappedBytes == 2 * arenaBytes)
        #expect(fake.reservedBytes == 2 * arenaBytes)
    }

    @Test func reserveENOMEMIsReportedAndKeepsTheHints() throws {
        let fake = FakeAddressSpace()
        let map = try ArenaMap(space: fake)
        fake.reserveFailuresLeft = 1
        let r = map.reserveArenas(bytes: arenaBytes, node: 0)
        guard case .failure(.reserveFailed(let e)) = r else { Issue.record("got \(r)"); return }
        #expect(e.code == FakeAddressSpace.ENOMEM)
        #expect(callName(e) == "mmap")
        #expect(map.arenaCount == 0 && map.mappedBytes == 0)
        #expect(map.hints.first == firstHint)
        #expect(map.reserveArenas(bytes: arenaBytes, node: 0).value == firstHint)

        // With no hints, the anywhere path reports the failure too.
        let bare = try ArenaMap(space: fake, hintCount: 0)
        fake.reserveFailuresLeft = 1
        let r2 = bare.reserveArenas(bytes: arenaBytes, node: 0)
        guard case .failure(.reserveFailed(let e2)) = r2 else { Issue.record("got \(r2)"); return }
        #expect(e2.code == FakeAddressSpace.ENOMEM && callName(e2) == "mmap")
        #expect(bare.arenaCount == 0)
    }

    @Test func bindEPERMUndoesTheReservation() throws {
        let fake = FakeAddressSpace()
        let map = try ArenaMap(space: fake)
        fake.bindError = FakeAddressSpace.EPERM
        let r = map.reserveArenas(bytes: arenaBytes, node: 1, policy: .bind)
        guard case .failure(.bindFailed(let node, let e)) = r else { Issue.record("got \(r)"); return }
        #expect(node == 1)
        #expect(e.code == FakeAddressSpace.EPERM)
        #expect(callName(e) == "mbind")
        #expect(fake.reservations.isEmpty)
        #expect(map.arenaCount == 0 && map.mappedBytes == 0)
        #expect(map.isMapped(firstHint) == false)
        #expect(map.hints.first == firstHint)

        fake.bindError = nil
        let a = try map.reserveArenas(bytes: 2 * arenaBytes, node: 1, policy: .preferred).get()
        #expect(a == firstHint)
        #expect(fake.calls.last(where: {
            if case .bind = $0 { return true } else { return false }
        }) == .bind(a, bytes: 2 * arenaBytes, node: 1, policy: .preferred))
        #expect(map.nodeOf(a) == 1 && map.nodeOf(a + UInt(2 * arenaBytes) - 1) == 1)
    }

    @Test func noPolicyMeansNoBindCall() throws {
        let fake = FakeAddressSpace()
        let map = try ArenaMap(space: fake)
        _ = try map.reserveArenas(bytes: arenaBytes, node: 3).get()
        #expect(!fake.calls.contains { if case .bind = $0 { true } else { false } })
        #expect(map.nodeOf(firstHint) == 3)
    }

    @Test func deinitReleasesEveryArena() throws {
        let fake = FakeAddressSpace()
        do {
            let map = try ArenaMap(space: fake, hintCount: 0)
            _ = try map.reserveArenas(bytes: 3 * arenaBytes, node: 0).get()
            _ = try map.reserveArenas(bytes: arenaBytes, node: 1).get()
            #expect(fake.reservedBytes == 4 * arenaBytes)
            #expect(map.metadataBytes > 4 * 64 * 1024)
        }
        #expect(fake.reservations.isEmpty)
    }
}
