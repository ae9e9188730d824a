/// The fixed geometry of the heap's address space (Go's `heapArenaBytes`,
/// `arenaL1Bits`, `arenaL2Bits` and the amd64 arena hints).
///
/// The heap reserves address space in arenas of ``heapArenaBytes``, each aligned
/// to its size. An address's arena number is `address >> logHeapArenaBytes`; the
/// index that maps arena numbers to metadata covers ``addressBits`` bits of
/// address space, split into an L1 of `1 << arenaL1Bits` entries and L2 tables of
/// `1 << arenaL2Bits` entries, exactly as Go does on linux/amd64 (L1 of one entry,
/// L2 of 2²² entries).
public enum ArenaLayout {
    /// Bytes in one arena: 64 MiB.
    @inlinable public static var heapArenaBytes: Int { 1 << logHeapArenaBytes }
    /// log₂ of ``heapArenaBytes``.
    @inlinable public static var logHeapArenaBytes: Int { 26 }
    /// Bits of address space the index covers; addresses at or above `1 << addressBits`
    /// are never heap addresses.
    @inlinable public static var addressBits: Int { 48 }
    /// Bits of an arena number: `addressBits - logHeapArenaBytes` = 22.
    @inlinable public static var arenaBits: Int { addressBits - logHeapArenaBytes }
    /// Bits of an arena number that select the L1 entry (0 on 64-bit Linux, as in Go).
    @inlinable public static var arenaL1Bits: Int { 0 }
    /// Bits of an arena number that select the L2 entry.
    @inlinable public static var arenaL2Bits: Int { arenaBits - arenaL1Bits }

    /// The heap page size unless the map is told otherwise: 8 KiB, Go's `pageSize`.
    @inlinable public static var defaultPageSize: Int { 8192 }
    /// Pages per reclaimer chunk (Go's `pagesPerReclaimerChunk`): 512 pages, eight
    /// 64-bit words of `pageInUse`/`pageMarks`.
    @inlinable public static var pagesPerReclaimerChunk: Int { 512 }

    /// Go's first amd64 arena hint, `0x00c0 << 32`: a range unlikely to be taken by
    /// the kernel's top-down mmap and easy to recognise in a crash dump.
    @inlinable public static var defaultFirstHint: UInt { 0x00c0_0000_0000 }
    /// The distance between consecutive hints: `1 << 40`.
    @inlinable public static var defaultHintStride: UInt { 0x0100_0000_0000 }
    /// Number of hints: `0x00c0 << 32` through `0x7fc0 << 32`.
    @inlinable public static var defaultHintCount: Int { 0x80 }
    /// The most hints a map holds at once (initial hints plus ones it adds when a
    /// reservation lands away from every hint).
    @inlinable public static var hintCapacity: Int { 512 }
}
