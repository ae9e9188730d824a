// ChunkMap: the chunks' bitmaps (Go's pageAlloc.chunks), a sparse two-level
// array so that the whole 48-bit space needs only a small L1 up front.
//
// Each chunk has 16 words: its alloc bitmap (words 0..<8, 1 = in use) and its
// scavenged bitmap (words 8..<16, 1 = released). An L2 block holds 2^13 chunks
// (1 MiB) and is mapped the first time grow reaches one of its chunks; pages of
// it that are never touched cost nothing.
import Platform

@usableFromInline let chunkDataWords = 16

@usableFromInline
struct ChunkMap {
    /// L1: 2^l1Bits pointers to L2 blocks, nil until grow maps one. Mapped at
    /// init; written only by grow under the owner's lock.
    @usableFromInline let l1: UnsafeMutablePointer<UnsafeMutablePointer<UInt64>?>
    @usableFromInline let l1Count: Int
    @usableFromInline let l2Bits: UInt

    @inlinable var l2Bytes: Int { (1 << Int(l2Bits)) * chunkDataWords * 8 }

    init(chunkBits: UInt) {
        l2Bits = min(13, chunkBits)
        l1Count = 1 << Int(chunkBits - l2Bits)
        switch SystemMemory.mapAnonymous(bytes: l1Count * 8) {
        case .success(let p): l1 = p.bindMemory(to: UnsafeMutablePointer<UInt64>?.self, capacity: l1Count)
        case .failure(let e):
            FatalMessage("PageAlloc: cannot map the chunk map's L1 (").decimal(l1Count * 8)
                .text(" bytes): errno ").decimal(Int(e.code)).crash()
        }
    }

    /// The 16 words of chunk `ci`, which grow must have reached.
    @inlinable @inline(__always) func data(_ ci: UInt) -> UnsafeMutablePointer<UInt64> {
        l1[Int(ci >> l2Bits)].unsafelyUnwrapped + Int(ci & ((1 << l2Bits) - 1)) * chunkDataWords
    }
    @inlinable @inline(__always) func alloc(_ ci: UInt) -> PallocBits { PallocBits(data(ci)) }
    @inlinable @inline(__always) func scavenged(_ ci: UInt) -> PallocBits { PallocBits(data(ci) + chunkWords) }

    /// Maps the L2 block holding chunk `ci` if it is not mapped yet.
    func ensure(_ ci: UInt) {
        let i = Int(ci >> l2Bits)
        if l1[i] != nil { return }
        switch SystemMemory.mapAnonymous(bytes: l2Bytes) {
        case .success(let p): l1[i] = p.bindMemory(to: UInt64.self, capacity: l2Bytes / 8)
        case .failure(let e):
            FatalMessage("PageAlloc: cannot map a chunk-map L2 block (").decimal(l2Bytes)
                .text(" bytes): errno ").decimal(Int(e.code)).crash()
        }
    }

    func release() {
        for i in 0..<l1Count {
            if let p = l1[i] { _ = SystemMemory.unmap(UnsafeMutableRawPointer(p), bytes: l2Bytes) }
        }
        _ = SystemMemory.unmap(UnsafeMutableRawPointer(l1), bytes: l1Count * 8)
    }
}
