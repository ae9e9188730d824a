import CPlatform
import Glibc

/// The machine's NUMA topology as the kernel reports it in
/// `/sys/devices/system/node` (see `TopologyLoader` for every file read, and
/// Docs/Topology.md).
///
/// A `SystemTopology` is a pointer to an immutable snapshot in its own
/// anonymous mapping. ``current`` loads the snapshot once per process without
/// allocating — the heap reads it from inside `malloc` — so copies are free
/// and every query is a load from that mapping. Free memory
/// (``freeMemoryBytes(of:)``) is as of the load.
///
/// Capacity: nodes `0..<64` and CPUs `0..<`​``CPUSet/capacity``. Beyond that,
/// ``init(sysfsRoot:meminfoPath:truncating:)`` throws (unless asked to truncate)
/// and ``current`` leaves the excess nodes and CPUs out (``isTruncated``).
public struct SystemTopology: NUMATopology, @unchecked Sendable {
    // @unchecked Sendable: `storage` is written only before publication and
    // read-only afterwards (TopologyStorage's invariant).
    @usableFromInline let storage: UnsafeRawPointer
    /// Unmaps a snapshot made by the throwing initialiser; nil for ``current``,
    /// whose snapshot lives as long as the process.
    let owner: StorageOwner?

    // MARK: Loading

    /// The machine's topology, loaded on first use, once per process.
    ///
    /// Thread-safe and non-allocating: racing first callers each load a
    /// snapshot into a fresh mapping, one publishes it with a compare-exchange
    /// and the others unmap theirs. Never fails: when sysfs cannot be read or
    /// is malformed, the result is node 0 with memory and the CPUs `sysconf`
    /// counts (``loadProblem`` says why); nodes ≥ 64 and CPUs ≥ 1024 are left
    /// out (``isTruncated``).
    public static var current: SystemTopology {
        // The snapshot behind `current` is the C global numaheap_topology_snapshot
        // (CPlatform): 0 until the first call publishes one.
        let p = numaheap_topology_snapshot_load()
        if p != 0 { return SystemTopology(storage: UnsafeRawPointer(bitPattern: p)!, owner: nil) }
        return loadCurrent()
    }

    @inline(never)
    private static func loadCurrent() -> SystemTopology {
        let mine = loadSnapshot(sysfsRoot: "/sys", meminfoPath: "/proc/meminfo")
        let winner = numaheap_topology_snapshot_publish(UInt(bitPattern: mine))
        if winner == 0 { return SystemTopology(storage: mine, owner: nil) }
        _ = SystemMemory.unmap(UnsafeMutableRawPointer(mutating: mine), bytes: TopologyStorage.storageBytes)
        return SystemTopology(storage: UnsafeRawPointer(bitPattern: winner)!, owner: nil)
    }

    /// Loads a snapshot without allocating; never fails (see ``current``).
    /// Crashes with a message only when not even one page can be mapped.
    static func loadSnapshot(sysfsRoot: StaticString, meminfoPath: StaticString) -> UnsafeRawPointer {
        let storage: UnsafeMutableRawPointer
        switch SystemMemory.mapAnonymous(bytes: TopologyStorage.mappingBytes) {
        case .success(let p): storage = p
        case .failure(let e):
            FatalMessage("SystemTopology: cannot map ").decimal(TopologyStorage.mappingBytes)
                .text(" bytes for its snapshot: mmap errno ").decimal(Int(e.code)).crash()
        }
        var loader = TopologyLoader(storage: storage, strict: false)
        // StaticStrings are NUL-terminated UTF-8; CChar and UInt8 may alias.
        let ok = loader.load(sysfsRoot: UnsafeRawPointer(sysfsRoot.utf8Start).assumingMemoryBound(to: CChar.self),
                             meminfoPath: UnsafeRawPointer(meminfoPath.utf8Start).assumingMemoryBound(to: CChar.self))
        if !ok { loader.lastResort() }
        _ = SystemMemory.unmap(storage + TopologyStorage.storageBytes, bytes: TopologyStorage.mappingBytes - TopologyStorage.storageBytes)
        return UnsafeRawPointer(storage)
    }

    /// Reads the topology below `sysfsRoot`, a directory laid out like `/sys`
    /// (`devices/system/node/online`, …), and, on a kernel without NUMA, the
    /// memory of `meminfoPath`. For tests (fixture trees) and for a fresh
    /// reading of free memory (`SystemTopology(sysfsRoot: "/sys")`). May allocate.
    ///
    /// - Parameters:
    ///   - sysfsRoot: the directory that stands for `/sys`.
    ///   - meminfoPath: the file that stands for `/proc/meminfo`.
    ///   - truncating: leave out nodes ≥ 64 and CPUs ≥ 1024 (as
    ///     ``current`` does) instead of throwing ``TopologyError/nodeBeyondCapacity(file:node:capacity:)``
    ///     or ``TopologyError/cpuBeyondCapacity(file:cpu:capacity:)``.
    public init(sysfsRoot: String, meminfoPath: String = "/proc/meminfo", truncating: Bool = false) throws(TopologyError) {
        let storage: UnsafeMutableRawPointer
        switch SystemMemory.mapAnonymous(bytes: TopologyStorage.mappingBytes) {
        case .success(let p): storage = p
        case .failure(let e): throw .unreadable(file: "(mmap of \(TopologyStorage.mappingBytes) bytes)", errno: e.code)
        }
        var loader = TopologyLoader(storage: storage, strict: !truncating)
        let ok = loader.load(sysfsRoot: sysfsRoot, meminfoPath: meminfoPath)
        _ = SystemMemory.unmap(storage + TopologyStorage.storageBytes, bytes: TopologyStorage.mappingBytes - TopologyStorage.storageBytes)
        let owner = StorageOwner(storage)
        if !ok, let error = TopologyError(recordedIn: storage) { throw error }
        self.init(storage: UnsafeRawPointer(storage), owner: owner)
    }

    init(storage: UnsafeRawPointer, owner: StorageOwner?) {
        self.storage = storage
        self.owner = owner
    }

    // MARK: What the load found

    @usableFromInline var header: TopologyStorage.Header { TopologyStorage.header(storage).pointee }

    /// True when nodes ≥ 64 or CPUs ≥ ``CPUSet/capacity`` were left out.
    public var isTruncated: Bool { header.truncated }

    /// True when the topology came from `/sys/devices/system/node`; false on a
    /// kernel without NUMA (one node 0) or when ``current`` fell back.
    public var isFromNodeDirectory: Bool { header.source == TopologyStorage.Source.nodeDirectory.rawValue }

    /// Why ``current`` fell back to a single node; nil when sysfs was read.
    /// Allocates the error's text: call it outside `malloc`.
    public var loadProblem: TopologyError? {
        header.source == TopologyStorage.Source.lastResort.rawValue ? TopologyError(recordedIn: storage) : nil
    }

    // MARK: NUMATopology
    //
    // Typed reads of the arrays the loader bound (TopologyLoader.init); the CPU
    // set is 16 words read as one CPUSet (the same layout).

    public var nodeLimit: Int { header.nodeLimit }
    public var cpuLimit: Int { header.cpuLimit }

    public func isOnline(_ node: Int) -> Bool {
        node >= 0 && node < TopologyStorage.maximumNodes && header.online & (1 << UInt64(node)) != 0
    }

    public func hasMemory(_ node: Int) -> Bool {
        node >= 0 && node < TopologyStorage.maximumNodes && header.memory & (1 << UInt64(node)) != 0
    }

    public func memoryBytes(of node: Int) -> Int {
        guard node >= 0, node < TopologyStorage.maximumNodes else { return 0 }
        return (storage + TopologyStorage.memoryTotalOffset).assumingMemoryBound(to: Int.self)[node]
    }

    public func freeMemoryBytes(of node: Int) -> Int {
        guard node >= 0, node < TopologyStorage.maximumNodes else { return 0 }
        return (storage + TopologyStorage.memoryFreeOffset).assumingMemoryBound(to: Int.self)[node]
    }

    public func cpus(of node: Int) -> CPUSet {
        guard node >= 0, node < TopologyStorage.maximumNodes else { return CPUSet() }
        return storage.load(fromByteOffset: TopologyStorage.cpusOffset + MemoryLayout<CPUSet>.stride * node, as: CPUSet.self)
    }

    public func node(ofCPU cpu: Int) -> Int? {
        guard cpu >= 0, cpu < TopologyStorage.maximumCPUs else { return nil }
        let node = (storage + TopologyStorage.cpuNodeOffset).assumingMemoryBound(to: UInt8.self)[cpu]
        return node == TopologyStorage.noNode ? nil : Int(node)
    }

    public func distance(from: Int, to: Int) -> Int {
        guard from >= 0, from < TopologyStorage.maximumNodes, to >= 0, to < TopologyStorage.maximumNodes else { return 0 }
        return Int((storage + TopologyStorage.distancesOffset).assumingMemoryBound(to: UInt16.self)[from * TopologyStorage.maximumNodes + to])
    }

    // MARK: The running thread

    /// The CPU the calling thread runs on now (`sched_getcpu`: glibc reads the
    /// thread's rseq area or the vDSO, no system call on current kernels); 0
    /// when the kernel cannot say. It may be stale as soon as it returns.
    @inlinable public static func currentCPU() -> Int {
        let cpu = numaheap_sched_getcpu()
        return cpu < 0 ? 0 : Int(cpu)
    }

    /// The CPU and node the calling thread runs on now, from one `getcpu(2)`
    /// system call (the kernel's own CPU → node map); (0, 0) when it fails.
    @inlinable public static func currentCPUAndNode() -> (cpu: Int, node: Int) {
        var cpu: UInt32 = 0
        var node: UInt32 = 0
        guard numaheap_getcpu(&cpu, &node) == 0 else { return (0, 0) }
        return (Int(cpu), Int(node))
    }
}

/// Owns the mapping of a snapshot that is not ``SystemTopology/current``.
final class StorageOwner: Sendable {
    let address: UInt
    init(_ storage: UnsafeMutableRawPointer) { address = UInt(bitPattern: storage) }
    deinit { _ = SystemMemory.unmap(UnsafeMutableRawPointer(bitPattern: address)!, bytes: TopologyStorage.storageBytes) }
}

extension TopologyLoader {
    /// After a failed load (``SystemTopology/current`` only): node 0, online,
    /// with memory (its size unknown, 0) and CPUs
    /// `0..<sysconf(_SC_NPROCESSORS_ONLN)`, distance 10. Keeps the recorded error.
    mutating func lastResort() {
        // Clear what the failed load wrote, keeping the header's error and its text.
        var i = 0
        while i < TopologyStorage.maximumNodes { memoryTotals[i] = 0; memoryFrees[i] = 0; i += 1 }
        i = 0
        while i < 16 * TopologyStorage.maximumNodes { cpuWords[i] = 0; i += 1 }
        i = 0
        while i < TopologyStorage.maximumNodes * TopologyStorage.maximumNodes { distances[i] = 0; i += 1 }
        i = 0
        while i < TopologyStorage.maximumCPUs { cpuNode[i] = TopologyStorage.noNode; i += 1 }
        var count = Int(sysconf(Int32(_SC_NPROCESSORS_ONLN)))
        if count < 1 { count = 1 }
        if count > TopologyStorage.maximumCPUs { count = TopologyStorage.maximumCPUs; header.pointee.truncated = true }
        i = 0
        while i < count {
            cpuNode[i] = 0
            cpuWords[BitIndex.word(i)] |= BitIndex.mask(i)
            i += 1
        }
        header.pointee.possible = 1
        header.pointee.online = 1
        header.pointee.memory = 1
        header.pointee.withCPUs = 1
        header.pointee.nodeLimit = 1
        header.pointee.cpuLimit = count
        distances[0] = 10
        header.pointee.source = TopologyStorage.Source.lastResort.rawValue
    }
}
