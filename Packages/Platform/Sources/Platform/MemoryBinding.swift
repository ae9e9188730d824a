import CPlatform
import Glibc

/// How `mbind(2)` places a range's pages on a node. Values are Linux's `MPOL_*` (`<linux/mempolicy.h>`).
public struct MemoryBindPolicy: RawRepresentable, Equatable, Hashable, Sendable {
    public var rawValue: Int32
    public init(rawValue: Int32) { self.rawValue = rawValue }
    /// `MPOL_PREFERRED`: allocate on the node when it has free memory, elsewhere otherwise.
    public static let preferred = MemoryBindPolicy(rawValue: Int32(MPOL_PREFERRED))
    /// `MPOL_BIND`: allocate on the node only (the allocation fails or reclaims otherwise).
    public static let bind = MemoryBindPolicy(rawValue: Int32(MPOL_BIND))
}

extension SystemMemory {
    /// The highest node number ``bindToNode(_:bytes:node:policy:)`` accepts, plus one
    /// (Linux's usual `CONFIG_NODES_SHIFT` of 10).
    @inlinable public static var maximumNodeCount: Int32 { 1024 }

    /// `mbind(2)` of `[address, address + bytes)` to the single node `node` with
    /// `policy` and no flags (no migration: call it before the pages are first
    /// touched). The node mask lives on the stack; nothing is allocated.
    ///
    /// Returns `EINVAL` for a node outside `0..<maximumNodeCount` without making
    /// the call.
    @inline(never)
    public static func bindToNode(
        _ address: UnsafeMutableRawPointer, bytes: Int, node: Int32, policy: MemoryBindPolicy
    ) -> Result<Void, SystemError> {
        guard node >= 0, node < maximumNodeCount else {
            return .failure(SystemError(call: "mbind", code: EINVAL))
        }
        // 1024 bits = 16 words.
        var mask: (UInt64, UInt64, UInt64, UInt64, UInt64, UInt64, UInt64, UInt64,
                   UInt64, UInt64, UInt64, UInt64, UInt64, UInt64, UInt64, UInt64) =
            (0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0)
        let rc = withUnsafeMutableBytes(of: &mask) { words -> Int in
            let w = words.baseAddress!.assumingMemoryBound(to: UInt.self)
            w[BitIndex.word(Int(node))] = UInt(BitIndex.mask(Int(node)))   // UInt is UInt64 (Linux x86-64, arm64)
            // The kernel reads maxnode - 1 bits; pass one more than the mask holds.
            return numaheap_mbind(address, UInt(bytes), policy.rawValue, w,
                                  UInt(maximumNodeCount) + 1, 0)
        }
        return rc == 0 ? .success(()) : .failure(SystemError(call: "mbind", code: numaheap_errno()))
    }
}

extension SystemMemory {
    /// Asks the kernel where each page is (`move_pages(2)` with no target
    /// nodes): `status[i]` becomes the node of the page at `pages[i]`, or a
    /// negative errno (`-ENOENT`: not yet touched, `-EFAULT`: not mapped).
    /// Pages must be addresses inside the pages asked about (page-aligned or not).
    public static func nodesOfPages(
        _ pages: UnsafeMutablePointer<UnsafeMutableRawPointer?>, count: Int, status: UnsafeMutablePointer<Int32>
    ) -> Result<Void, SystemError> {
        let rc = numaheap_move_pages(0, UInt(count), pages, nil, status, 0)
        return rc >= 0 ? .success(()) : .failure(SystemError(call: "move_pages", code: numaheap_errno()))
    }
}

extension SystemMemory {
    /// The memory policy mode (`MPOL_*`: 0 default, 1 preferred, 2 bind, 3
    /// interleave) of the mapping that contains `address` (`get_mempolicy(2)`
    /// with `MPOL_F_ADDR`).
    public static func policyMode(at address: UnsafeRawPointer) -> Result<Int32, SystemError> {
        var mode: Int32 = -1
        var mask: (UInt64, UInt64, UInt64, UInt64, UInt64, UInt64, UInt64, UInt64,
                   UInt64, UInt64, UInt64, UInt64, UInt64, UInt64, UInt64, UInt64) =
            (0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0)
        let rc = withUnsafeMutableBytes(of: &mask) { words in
            numaheap_get_mempolicy(&mode, words.baseAddress!.assumingMemoryBound(to: UInt.self),
                                   UInt(maximumNodeCount) + 1, UnsafeMutableRawPointer(mutating: address), UInt(MPOL_F_ADDR))
        }
        return rc == 0 ? .success(mode) : .failure(SystemError(call: "get_mempolicy", code: numaheap_errno()))
    }
}
