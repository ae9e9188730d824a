import CPlatform

/// The layout of a loaded topology inside its own anonymous mapping: plain
/// bytes, no Swift objects, so it can be built inside `malloc`.
///
/// Invariants: the loader writes every field before the storage is published
/// (``SystemTopology/current`` publishes with a release store); afterwards
/// nothing writes it and readers need no synchronisation. Node numbers index
/// per-node arrays directly (`0..<maximumNodes`), CPU numbers the CPU table
/// (`0..<maximumCPUs`). The scratch area after `storageBytes` (path and file
/// buffers) is the loader's only, and is unmapped before publication.
@usableFromInline
enum TopologyStorage {
    /// Nodes the storage can describe: node masks are one `UInt64`.
    @usableFromInline static var maximumNodes: Int { 64 }
    /// CPUs the storage can describe, as many as a ``CPUSet`` holds.
    @usableFromInline static var maximumCPUs: Int { 1024 }   // CPUSet.capacity (a test checks)
    /// `cpuNode` entry for a CPU in no online node.
    static var noNode: UInt8 { 0xFF }

    // Byte offsets of the fields (computed properties: no lazy globals, no swift_once). The header is `Header` (below 256 bytes).
    static var errorPathOffset: Int { 256 }
    static var errorPathCapacity: Int { 256 }
    static var errorTextOffset: Int { 512 }
    static var errorTextCapacity: Int { 128 }
    static var memoryTotalOffset: Int { 640 }                          // Int × maximumNodes
    static var memoryFreeOffset: Int { memoryTotalOffset + 8 * 64 }    // Int × maximumNodes
    static var cpusOffset: Int { memoryFreeOffset + 8 * 64 }           // CPUSet (16 × UInt64) × maximumNodes
    static var distancesOffset: Int { cpusOffset + 128 * 64 }          // UInt16 × maximumNodes², row-major [from][to]
    static var cpuNodeOffset: Int { distancesOffset + 2 * 64 * 64 }    // UInt8 × maximumCPUs
    /// The published part of the mapping (whole pages).
    static var storageBytes: Int { 20 << 10 }
    static var pathOffset: Int { storageBytes }
    static var pathCapacity: Int { 4 << 10 }
    static var fileOffset: Int { pathOffset + pathCapacity }
    /// The largest file the loader reads: a `cpulist` of 8192 CPUs with no two
    /// adjacent ("0,2,4,…") is about 40 KiB.
    static var fileCapacity: Int { 64 << 10 }
    /// The whole mapping while loading.
    static var mappingBytes: Int { fileOffset + fileCapacity }

    /// Where the topology came from.
    @usableFromInline enum Source: Int {
        /// `/sys/devices/system/node`.
        case nodeDirectory = 1
        /// No node directory (a kernel without NUMA): node 0 with `cpu/online` and `/proc/meminfo`.
        case withoutNUMA = 2
        /// ``SystemTopology/current`` only: sysfs could not be read or was malformed;
        /// node 0 with memory and the CPUs `sysconf` counts. The error is kept.
        case lastResort = 3
    }

    /// The fixed fields at offset 0.
    @usableFromInline struct Header {
        @usableFromInline var nodeLimit: Int
        @usableFromInline var cpuLimit: Int
        @usableFromInline var possible: UInt64
        @usableFromInline var online: UInt64
        @usableFromInline var memory: UInt64
        @usableFromInline var withCPUs: UInt64
        @usableFromInline var source: Int
        /// Nodes ≥ `maximumNodes` or CPUs ≥ `maximumCPUs` were left out (``SystemTopology/current`` only).
        @usableFromInline var truncated: Bool
        /// A `TopologyError.Code`; 0 for none.
        @usableFromInline var errorCode: Int
        /// The error's numbers: an errno, a byte offset, expected and found counts, a CPU and its nodes.
        @usableFromInline var errorNumbers: (Int, Int, Int)
        @usableFromInline var errorPathLength: Int
        @usableFromInline var errorTextLength: Int
    }

    static func header(_ storage: UnsafeRawPointer) -> UnsafePointer<Header> {
        storage.assumingMemoryBound(to: Header.self)
    }
}
