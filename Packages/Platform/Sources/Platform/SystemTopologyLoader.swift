import CPlatform
import Glibc

/// Reads the kernel's NUMA topology into a fresh ``TopologyStorage`` mapping.
///
/// Files, below the sysfs root (`/sys` for the machine):
///   devices/system/node/online            required; list of online nodes
///   devices/system/node/possible          optional (default: online); sets nodeLimit
///   devices/system/node/has_memory        optional (default: nodes whose MemTotal > 0)
///   devices/system/node/has_cpu           optional; parsed for syntax only (cpulist is authoritative)
///   devices/system/node/nodeN/cpulist     required for every online node
///   devices/system/node/nodeN/meminfo     optional (missing: 0 bytes)
///   devices/system/node/nodeN/distance    optional (missing: the row is unknown, 0)
///   devices/system/cpu/possible           optional; sets cpuLimit with the CPUs seen
/// Without `devices/system/node/online` (a kernel without NUMA) the topology is
/// node 0 with the CPUs of `devices/system/cpu/online` and the memory of the
/// meminfo file (`/proc/meminfo`), distance 10 to itself.
///
/// Invariants: never allocates (it runs inside `malloc`; see SystemTopologyText.swift)
/// — file contents and paths live in the mapping's scratch area, loops are
/// `while` loops over integers, nothing generic is called. Errors are recorded
/// in the storage (`fail`) and turned into a ``TopologyError`` by the caller.
struct TopologyLoader {
    typealias Layout = TopologyStorage

    let storage: UnsafeMutableRawPointer
    /// true: a node or CPU beyond the storage's capacity is an error; false: it
    /// is left out and `Header.truncated` is set.
    let strict: Bool
    let header: UnsafeMutablePointer<TopologyStorage.Header>
    let path: UnsafeMutablePointer<UInt8>
    let file: UnsafeMutablePointer<UInt8>
    // The storage's arrays as typed pointers (bound in init): typed accesses
    // compile to plain loads and stores even in debug builds, where raw
    // `load(fromByteOffset:as:)` is an unspecialised generic call.
    let memoryTotals: UnsafeMutablePointer<Int>
    let memoryFrees: UnsafeMutablePointer<Int>
    let cpuWords: UnsafeMutablePointer<UInt64>
    let distances: UnsafeMutablePointer<UInt16>
    let cpuNode: UnsafeMutablePointer<UInt8>
    let errorPath: UnsafeMutablePointer<UInt8>
    let errorText: UnsafeMutablePointer<UInt8>
    /// Bytes of the sysfs root at the start of `path`.
    var rootLength = 0

    /// `storage` is a fresh (zeroed) mapping of `TopologyStorage.mappingBytes`.
    init(storage: UnsafeMutableRawPointer, strict: Bool) {
        self.storage = storage
        self.strict = strict
        header = storage.bindMemory(to: TopologyStorage.Header.self, capacity: 1)
        path = (storage + Layout.pathOffset).bindMemory(to: UInt8.self, capacity: Layout.pathCapacity + Layout.fileCapacity)
        file = path + Layout.pathCapacity
        errorPath = (storage + Layout.errorPathOffset).bindMemory(to: UInt8.self, capacity: Layout.errorPathCapacity)
        errorText = (storage + Layout.errorTextOffset).bindMemory(to: UInt8.self, capacity: Layout.errorTextCapacity)
        memoryTotals = (storage + Layout.memoryTotalOffset).bindMemory(to: Int.self, capacity: Layout.maximumNodes)
        memoryFrees = (storage + Layout.memoryFreeOffset).bindMemory(to: Int.self, capacity: Layout.maximumNodes)
        cpuWords = (storage + Layout.cpusOffset).bindMemory(to: UInt64.self, capacity: 16 * Layout.maximumNodes)
        distances = (storage + Layout.distancesOffset).bindMemory(to: UInt16.self, capacity: Layout.maximumNodes * Layout.maximumNodes)
        cpuNode = (storage + Layout.cpuNodeOffset).bindMemory(to: UInt8.self, capacity: Layout.maximumCPUs)
        var cpu = 0
        while cpu < Layout.maximumCPUs {
            cpuNode[cpu] = Layout.noNode
            cpu += 1
        }
    }

    // MARK: Loading

    /// Loads everything; false when an error was recorded.
    mutating func load(sysfsRoot: UnsafePointer<CChar>, meminfoPath: UnsafePointer<CChar>) -> Bool {
        var n = 0
        while sysfsRoot[n] != 0 {
            if n + 64 >= Layout.pathCapacity {
                // Leave room for the longest suffix ("/devices/system/node/node63/distance").
                header.pointee.errorNumbers = (Layout.pathCapacity - 64, 0, 0)
                recordText(SysfsBytes(start: UnsafeRawPointer(sysfsRoot).assumingMemoryBound(to: UInt8.self), count: n))
                header.pointee.errorCode = TopologyErrorCode.pathTooLong.rawValue
                return false
            }
            path[n] = UInt8(bitPattern: sysfsRoot[n])
            n += 1
        }
        rootLength = n
        setPath("/devices/system/node/online")
        switch read() {
        case .failed: return false
        case .missing(ENOENT): return loadWithoutNUMA(meminfoPath: meminfoPath)
        case .missing(let code): return fail(.unreadable, Int(code), 0, 0)
        case .bytes(let text):
            guard let online = nodeMask(text) else { return false }
            guard online != 0 else { return fail(.malformedList, 0, 0, 0, text: text) }
            header.pointee.online = online
        }
        return loadNodes(meminfoPath: meminfoPath)
    }

    private mutating func loadNodes(meminfoPath: UnsafePointer<CChar>) -> Bool {
        let online = header.pointee.online
        var possible = online
        setPath("/devices/system/node/possible")
        switch read() {
        case .failed: return false
        case .missing: break
        case .bytes(let text):
            guard let mask = nodeMask(text) else { return false }
            possible |= mask
        }
        header.pointee.possible = possible
        header.pointee.nodeLimit = 64 - possible.leadingZeroBitCount

        var node = 0
        while node < Layout.maximumNodes {
            if online & (1 << UInt64(node)) != 0 {
                setPath("/devices/system/node/node", node: node, "/cpulist")
                guard case .bytes(let text) = readRequired(), cpuList(text, node: node) else { return false }
                if !readNodeMeminfo(node) || !readDistances(node, onlineCount: online.nonzeroBitCount) { return false }
            }
            node += 1
        }

        setPath("/devices/system/node/has_memory")
        switch read() {
        case .failed: return false
        case .missing:
            var derived: UInt64 = 0
            node = 0
            while node < Layout.maximumNodes {
                if memoryTotal(node) > 0 { derived |= 1 << UInt64(node) }
                node += 1
            }
            header.pointee.memory = derived & online
        case .bytes(let text):
            guard let mask = nodeMask(text) else { return false }
            header.pointee.memory = mask & online
        }

        setPath("/devices/system/node/has_cpu")
        switch read() {
        case .failed: return false
        case .missing: break
        case .bytes(let text):
            guard let mask = nodeMask(text) else { return false }
            header.pointee.withCPUs = mask & online
        }
        header.pointee.source = TopologyStorage.Source.nodeDirectory.rawValue
        return readPossibleCPUs()
    }

    /// A kernel without NUMA: node 0 holds every online CPU and all memory.
    private mutating func loadWithoutNUMA(meminfoPath: UnsafePointer<CChar>) -> Bool {
        setPath("/devices/system/cpu/online")
        guard case .bytes(let cpus) = readRequired(), cpuList(cpus, node: 0) else { return false }
        setAbsolutePath(meminfoPath)
        guard case .bytes(let info) = readRequired(), meminfo(info, node: 0) else { return false }
        header.pointee.possible = 1
        header.pointee.online = 1
        header.pointee.memory = memoryTotal(0) > 0 ? 1 : 0
        header.pointee.withCPUs = 1
        header.pointee.nodeLimit = 1
        distances[0] = 10
        header.pointee.source = TopologyStorage.Source.withoutNUMA.rawValue
        return readPossibleCPUs()
    }

    /// cpuLimit: one more than the highest CPU in `cpu/possible` or in any node.
    private mutating func readPossibleCPUs() -> Bool {
        var highest = header.pointee.cpuLimit - 1   // the highest CPU the node lists held
        setPath("/devices/system/cpu/possible")
        switch read() {
        case .failed: return false
        case .missing: break
        case .bytes(let text):
            var parser = SysfsListParser(text.trimmed)
            while true {
                switch parser.next() {
                case .end:
                    header.pointee.cpuLimit = highest + 1
                    return true
                case .malformed(let offset):
                    return fail(.malformedList, offset, 0, 0, text: text)
                case .range(_, let high):
                    if high >= Layout.maximumCPUs {
                        if strict { return fail(.cpuBeyondCapacity, high, 0, 0) }
                        header.pointee.truncated = true
                        highest = Layout.maximumCPUs - 1
                    } else if high > highest {
                        highest = high
                    }
                }
            }
        }
        header.pointee.cpuLimit = highest + 1
        return true
    }

    // MARK: Per-node files

    private mutating func readNodeMeminfo(_ node: Int) -> Bool {
        setPath("/devices/system/node/node", node: node, "/meminfo")
        switch read() {
        case .failed: return false
        case .missing: return true
        case .bytes(let text): return meminfo(text, node: node)
        }
    }

    /// `nodeN/distance`: one number per online node, in node order.
    private mutating func readDistances(_ node: Int, onlineCount: Int) -> Bool {
        setPath("/devices/system/node/node", node: node, "/distance")
        let text: SysfsBytes
        switch read() {
        case .failed: return false
        case .missing: return true
        case .bytes(let t): text = t.trimmed
        }
        let online = header.pointee.online
        var target = 0          // the node the next number is the distance to
        var found = 0
        var i = 0
        while i < text.count {
            guard let (value, end) = text.decimal(at: i), value <= 0xFFFF,
                  end == text.count || text[end] == 0x20
            else { return fail(.malformedDistance, 0, 0, 0, text: text) }
            while target < Layout.maximumNodes, online & (1 << UInt64(target)) == 0 { target += 1 }
            if target < Layout.maximumNodes {
                distances[node * Layout.maximumNodes + target] = UInt16(value)
                target += 1
            }
            found += 1
            i = end
            while i < text.count, text[i] == 0x20 { i += 1 }
        }
        // Truncated nodes (≥ 64) still have their column in the kernel's row.
        if found == onlineCount || (header.pointee.truncated && found > onlineCount) { return true }
        return fail(.distanceRowLength, onlineCount, found, 0, text: text)
    }

    private mutating func meminfo(_ text: SysfsBytes, node: Int) -> Bool {
        guard let total = sysfsMeminfoBytes(text, key: "MemTotal:") else {
            return fail(.malformedMeminfoTotal, 0, 0, 0, text: text)
        }
        guard let free = sysfsMeminfoBytes(text, key: "MemFree:") else {
            return fail(.malformedMeminfoFree, 0, 0, 0, text: text)
        }
        memoryTotals[node] = total
        memoryFrees[node] = free
        return true
    }

    private func memoryTotal(_ node: Int) -> Int { memoryTotals[node] }

    // MARK: Lists

    /// A node list as a mask; nil when an error was recorded.
    private mutating func nodeMask(_ raw: SysfsBytes) -> UInt64? {
        let text = raw.trimmed
        var parser = SysfsListParser(text)
        var mask: UInt64 = 0
        while true {
            switch parser.next() {
            case .end:
                return mask
            case .malformed(let offset):
                fail(.malformedList, offset, 0, 0, text: text)
                return nil
            case .range(let low, let high):
                var n = low
                while n <= high {
                    if n >= Layout.maximumNodes {
                        if strict { fail(.nodeBeyondCapacity, n, 0, 0); return nil }
                        header.pointee.truncated = true
                        break
                    }
                    mask |= 1 << UInt64(n)
                    n += 1
                }
            }
        }
    }

    /// Adds the CPUs of a list to `node`'s CPU set and the CPU → node table;
    /// raises `cpuLimit` to cover them. False when an error was recorded.
    private mutating func cpuList(_ raw: SysfsBytes, node: Int) -> Bool {
        let text = raw.trimmed
        var parser = SysfsListParser(text)
        while true {
            switch parser.next() {
            case .end:
                return true
            case .malformed(let offset):
                return fail(.malformedList, offset, 0, 0, text: text)
            case .range(let low, let high):
                var cpu = low
                while cpu <= high {
                    if cpu >= Layout.maximumCPUs {
                        if strict { return fail(.cpuBeyondCapacity, cpu, 0, 0) }
                        header.pointee.truncated = true
                        break
                    }
                    let owner = cpuNode[cpu]
                    if owner != Layout.noNode { return fail(.cpuInTwoNodes, cpu, Int(owner), node) }
                    cpuNode[cpu] = UInt8(node)
                    cpuWords[16 * node + BitIndex.word(cpu)] |= BitIndex.mask(cpu)
                    if cpu >= header.pointee.cpuLimit { header.pointee.cpuLimit = cpu + 1 }
                    cpu += 1
                }
            }
        }
    }

    // MARK: Files and paths

    enum ReadResult {
        case bytes(SysfsBytes)
        /// The file could not be opened (errno); whether that is an error is the caller's call.
        case missing(Int32)
        /// An error was recorded.
        case failed
    }

    /// Reads the file at `path` into the file buffer.
    private mutating func read() -> ReadResult {
        var length = 0
        // CChar and UInt8 are the signed and unsigned forms of one type: they may alias.
        let code = numaheap_read_file(UnsafeRawPointer(path).assumingMemoryBound(to: CChar.self),
                                      UnsafeMutableRawPointer(file).assumingMemoryBound(to: CChar.self),
                                      Layout.fileCapacity, &length)
        if code == 0 { return .bytes(SysfsBytes(start: file, count: length)) }
        if code == EFBIG {
            fail(.fileTooLong, Layout.fileCapacity, 0, 0)
            return .failed
        }
        if code == ENOENT { return .missing(code) }
        fail(.unreadable, Int(code), 0, 0)
        return .failed
    }

    /// `read()`, where a missing file is an error too.
    private mutating func readRequired() -> ReadResult {
        let result = read()
        if case .missing(let code) = result {
            fail(.unreadable, Int(code), 0, 0)
            return .failed
        }
        return result
    }

    /// path = root + `directory` [+ decimal `node` + `name`], NUL-terminated.
    private mutating func setPath(_ directory: StaticString, node: Int = -1, _ name: StaticString = "") {
        var n = append(directory, at: rootLength)
        if node >= 0 {
            var digits = 1
            var rest = node / 10
            while rest > 0 { digits += 1; rest /= 10 }
            var value = node
            var i = n + digits - 1
            while i >= n {
                path[i] = UInt8(0x30 + value % 10)
                value /= 10
                i -= 1
            }
            n += digits
            n = append(name, at: n)
        }
        path[n] = 0
    }

    /// path = `absolute` (the meminfo file, which is outside the sysfs root).
    private mutating func setAbsolutePath(_ absolute: UnsafePointer<CChar>) {
        var n = 0
        while absolute[n] != 0, n < Layout.pathCapacity - 1 {
            path[n] = UInt8(bitPattern: absolute[n])
            n += 1
        }
        path[n] = 0
    }

    private func append(_ s: StaticString, at start: Int) -> Int {
        let bytes = s.utf8Start
        var i = 0
        while i < s.utf8CodeUnitCount {
            path[start + i] = bytes[i]
            i += 1
        }
        return start + i
    }

    // MARK: Errors

    /// Records an error: `code`, its numbers, the current path and `text`
    /// (trimmed, at most `errorTextCapacity` bytes). Returns false for `return fail(…)`.
    @discardableResult
    private mutating func fail(_ code: TopologyErrorCode, _ a: Int, _ b: Int, _ c: Int, text: SysfsBytes? = nil) -> Bool {
        header.pointee.errorCode = code.rawValue
        header.pointee.errorNumbers = (a, b, c)
        var n = 0
        while n < Layout.errorPathCapacity, path[n] != 0 {
            errorPath[n] = path[n]
            n += 1
        }
        header.pointee.errorPathLength = n
        if let text { recordText(text.trimmed) }
        return false
    }

    func recordText(_ text: SysfsBytes) {
        var n = 0
        while n < text.count, n < Layout.errorTextCapacity {
            errorText[n] = text[n]
            n += 1
        }
        header.pointee.errorTextLength = n
    }
}
