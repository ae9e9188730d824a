@testable import GCBits
import Platform
import Synchronization
import Testing

// The arenas the hook allocates from (the hook is a C function pointer and cannot capture).
// Each hook is installed on its own arenas, so tests running in parallel never call it.
nonisolated(unsafe) private var racingArenas: GCBitsArenas? = nil

/// Runs while the slow path has dropped the lock around mmap: another
/// "thread" installs an arena first. Clears itself, so it runs once.
private let installAnotherArena: @convention(c) (UnsafeMutableRawPointer) -> Void = { _ in
    let arenas = racingArenas!
    arenas._locked.pointee.testHookBeforeMap = nil
    _ = try! arenas.newMarkBits(64)
}

/// Deterministic versions of the races in `newMarkBits`' slow path, which the
/// threaded tests reach only by luck: while one caller has dropped the lock to
/// map a batch, another installs an arena from a batch of its own.
@Suite(.serialized) struct LockDropRaceTests {
    @Test func controlBlockAndBatchLayoutsFitWhatTheyHold() {
        #expect(MemoryLayout<_GCBitsArena?>.size == 8)   // an arena's `next` link is one word
        #expect(MemoryLayout<Atomic<UInt>>.size == 8)
        #expect(RawLock.byteCount <= _GCBitsArenasLayout.nextOffset - _GCBitsArenasLayout.lockOffset)   // the lock's own line
        #expect(GCBitsArenas.controlBlockByteCount <= 4096)
        #expect(_GCBitsBatch.headerBytes >= MemoryLayout<_GCBitsBatchHeader>.size)
        #expect(_GCBitsBatch.headerBytes % 64 == 0 && _GCBitsArena.headerBytes % 8 == 0)
    }

    @Test func whenTheNewHeadHasRoomTheFreshArenaGoesToTheFreeList() throws {
        let arenas = try GCBitsArenas()
        defer { arenas.destroy() }
        racingArenas = arenas
        arenas._locked.pointee.testHookBeforeMap = installAnotherArena
        let bits = try arenas.newMarkBits(64)   // fits after the other caller's 8 bytes
        racingArenas = nil
        #expect(arenas._locked.pointee.testHookBeforeMap == nil, "the hook ran")
        let s = arenas.statistics
        // The other caller's arena is the head and served both; ours went back to
        // free, and the 15 uncarved arenas of the other batch went there too.
        #expect(s.nextArenas == 1)
        #expect(s.batches == 2)
        #expect(s.freeArenas == 16 && s.uncarvedArenas == 15)
        #expect(s.nextArenas + s.freeArenas + s.uncarvedArenas == 16 * s.batches)
        #expect(bits.popcount(64) == 0)
        // Arenas from the free list come back cleared and unshared.
        var seen = Set<UInt>()
        for _ in 0..<17 {
            let x = try arenas.newMarkBits(GCBitsArenas.maxElements)
            #expect(x.popcount(GCBitsArenas.maxElements) == 0)
            #expect(seen.insert(UInt(bitPattern: x.base)).inserted)
            x.base.initializeMemory(as: UInt8.self, repeating: 0xFF, count: GCBitsArenas.arenaCapacity)
        }
        #expect(bits.popcount(64) == 0)
    }

    @Test func whenTheNewHeadIsFullTheFreshArenaIsInstalledOnTop() throws {
        let arenas = try GCBitsArenas()
        defer { arenas.destroy() }
        racingArenas = arenas
        arenas._locked.pointee.testHookBeforeMap = installAnotherArena
        let whole = try arenas.newMarkBits(GCBitsArenas.maxElements)   // cannot fit after 8 bytes
        racingArenas = nil
        #expect(arenas._locked.pointee.testHookBeforeMap == nil, "the hook ran")
        let s = arenas.statistics
        #expect(s.nextArenas == 2 && s.batches == 2)
        #expect(s.freeArenas == 15 && s.uncarvedArenas == 15)
        #expect(whole.popcount(GCBitsArenas.maxElements) == 0)
    }
}
