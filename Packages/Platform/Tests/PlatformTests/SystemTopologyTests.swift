import Foundation
@testable import Platform
import Testing

/// A sysfs tree written to a temporary directory: `devices/system/node/…`,
/// `devices/system/cpu/…`, and a `meminfo` file beside them.
private final class Fixture {
    let root: URL
    var rootPath: String { root.path }
    var nodeDirectory: String { rootPath + "/devices/system/node" }
    var meminfoPath: String { rootPath + "/meminfo" }

    init() throws {
        root = FileManager.default.temporaryDirectory.appendingPathComponent("topology-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: root, withIntermediateDirectories: true)
    }

    deinit { try? FileManager.default.removeItem(at: root) }

    /// Writes `text` to `relative` (below the root), creating directories.
    func write(_ relative: String, _ text: String) throws {
        let url = root.appendingPathComponent(relative)
        try FileManager.default.createDirectory(at: url.deletingLastPathComponent(), withIntermediateDirectories: true)
        try text.write(to: url, atomically: false, encoding: .utf8)
    }

    func remove(_ relative: String) throws { try FileManager.default.removeItem(at: root.appendingPathComponent(relative)) }

    /// One node's directory as the kernel writes it.
    func node(_ n: Int, cpus: String, distances: [Int]?, totalKB: Int = 1 << 20, freeKB: Int = 1 << 19) throws {
        try write("devices/system/node/node\(n)/cpulist", cpus + "\n")
        if let distances { try write("devices/system/node/node\(n)/distance", distances.map(String.init).joined(separator: " ") + "\n") }
        try write("devices/system/node/node\(n)/meminfo", """
            Node \(n) MemTotal:       \(totalKB) kB
            Node \(n) MemFree:        \(freeKB) kB
            Node \(n) MemUsed:        \(totalKB - freeKB) kB
            Node \(n) HugePages_Total:     0

            """)
    }

    /// The node-level list files.
    func lists(possible: String? = nil, online: String, hasMemory: String?, hasCPU: String?, cpuPossible: String? = nil) throws {
        if let possible { try write("devices/system/node/possible", possible + "\n") }
        try write("devices/system/node/online", online + "\n")
        if let hasMemory { try write("devices/system/node/has_memory", hasMemory + "\n") }
        if let hasCPU { try write("devices/system/node/has_cpu", hasCPU + "\n") }
        if let cpuPossible { try write("devices/system/cpu/possible", cpuPossible + "\n") }
    }

    /// Two nodes with two CPUs each, 1 GiB each, distance 21 between them.
    static func twoNodes() throws -> Fixture {
        let f = try Fixture()
        try f.lists(possible: "0-1", online: "0-1", hasMemory: "0-1", hasCPU: "0-1", cpuPossible: "0-3")
        try f.node(0, cpus: "0-1", distances: [10, 21])
        try f.node(1, cpus: "2-3", distances: [21, 10], freeKB: 1000)
        return f
    }

    func load(truncating: Bool = false) throws(TopologyError) -> SystemTopology {
        try SystemTopology(sysfsRoot: rootPath, meminfoPath: meminfoPath, truncating: truncating)
    }

    /// The error loading throws; fails the test when it loads.
    func loadError(sourceLocation: SourceLocation = #_sourceLocation) -> TopologyError? {
        do {
            _ = try load()
            Issue.record("loaded a topology from a broken fixture", sourceLocation: sourceLocation)
            return nil
        } catch {
            return error
        }
    }
}

@Suite struct SystemTopologyTests {
    // MARK: Fixture trees

    @Test func readsATwoNodeTree() throws {
        let f = try Fixture.twoNodes()
        let t = try f.load()
        #expect(t.isFromNodeDirectory)
        #expect(!(t.isTruncated))
        #expect(t.nodeLimit == 2)
        #expect(t.cpuLimit == 4)
        #expect(t.onlineNodes == [0, 1])
        #expect(t.memoryNodes == [0, 1])
        #expect(Array(t.cpus(of: 0)) == [0, 1])
        #expect(Array(t.cpus(of: 1)) == [2, 3])
        #expect((0..<5).map { t.node(ofCPU: $0) } == [0, 0, 1, 1, nil])
        #expect(t.distance(from: 0, to: 0) == 10)
        #expect(t.distance(from: 0, to: 1) == 21)
        #expect(t.distance(from: 1, to: 0) == 21)
        #expect(t.distance(from: 1, to: 1) == 10)
        #expect(t.distance(from: 0, to: 2) == 0)
        #expect(t.memoryBytes(of: 0) == 1 << 30)
        #expect(t.freeMemoryBytes(of: 0) == 1 << 29)
        #expect(t.freeMemoryBytes(of: 1) == 1000 * 1024)
        #expect(t.memoryBytes(of: 2) == 0)
        #expect(t.memoryBytes(of: -1) == 0)
        #expect(!(t.isOnline(64)))
        #expect(t.cpus(of: 64).isEmpty)
        #expect(t.node(ofCPU: -1) == nil)
        #expect(t.node(ofCPU: 5000) == nil)
    }

    @Test func nodesWithGapsAndPossibleBeyondOnline() throws {
        let f = try Fixture()
        try f.lists(possible: "0-3", online: "0,2", hasMemory: "0,2", hasCPU: "0,2")
        try f.node(0, cpus: "0,2", distances: [10, 32])
        try f.node(2, cpus: "1,3", distances: [32, 10])
        let t = try f.load()
        #expect(t.nodeLimit == 4, "nodeLimit covers possible nodes")
        #expect(t.onlineNodes == [0, 2])
        #expect(!(t.isOnline(1)))
        #expect(!(t.hasMemory(1)))
        #expect(t.distance(from: 0, to: 2) == 32, "the row's second number is node 2, the second online node")
        #expect(t.distance(from: 2, to: 2) == 10)
        #expect(t.distance(from: 0, to: 1) == 0)
        #expect((0..<4).map { t.node(ofCPU: $0) } == [0, 2, 0, 2])
        #expect(t.cpuLimit == 4, "without cpu/possible: the highest CPU seen, plus one")
    }

    @Test func readsANodeWithMemoryAndNoCPUs() throws {
        let f = try Fixture()
        try f.lists(online: "0-2", hasMemory: "0-2", hasCPU: "0-1")
        try f.node(0, cpus: "0", distances: [10, 20, 30])
        try f.node(1, cpus: "1", distances: [20, 10, 30])
        try f.node(2, cpus: "", distances: [30, 30, 10], totalKB: 262_144, freeKB: 262_000)
        let t = try f.load()
        #expect(t.nodeLimit == 3, "without `possible`: the online nodes")
        #expect(t.hasMemory(2))
        #expect(!(t.hasCPUs(2)))
        #expect(t.cpus(of: 2).isEmpty)
        #expect(t.memoryBytes(of: 2) == 256 << 20)
        #expect(t.distance(from: 2, to: 0) == 30)
        #expect(t.header.withCPUs == 0b011)
    }

    @Test func withoutHasMemoryTheNodesWithMemTotalHaveMemory() throws {
        // Without has_memory, nodes with memory are those whose MemTotal > 0.
        let f = try Fixture()
        try f.lists(online: "0-1", hasMemory: nil, hasCPU: nil)
        try f.node(0, cpus: "0-1", distances: [10, 20])
        try f.node(1, cpus: "2-3", distances: [20, 10], totalKB: 0, freeKB: 0)
        let t = try f.load()
        #expect(t.memoryNodes == [0])
        #expect(t.hasCPUs(1))
    }

    @Test func missingDistanceFileLeavesTheRowUnknown() throws {
        let f = try Fixture.twoNodes()
        try f.remove("devices/system/node/node1/distance")
        let t = try f.load()
        #expect(t.distance(from: 0, to: 1) == 21)
        #expect(t.distance(from: 1, to: 0) == 0)
        #expect(t.distance(from: 1, to: 1) == 0)
    }

    @Test func missingMeminfoIsZeroBytes() throws {
        let f = try Fixture.twoNodes()
        try f.remove("devices/system/node/node1/meminfo")
        let t = try f.load()
        #expect(t.memoryBytes(of: 1) == 0)
        #expect(t.hasMemory(1), "has_memory decides, not meminfo")
    }

    @Test func withoutANodeDirectoryTheMachineIsOneNode() throws {
        let f = try Fixture()
        try f.write("devices/system/cpu/online", "0-2,5\n")
        try f.write("meminfo", "MemTotal:        2048 kB\nMemFree:         1024 kB\nMemAvailable:    1500 kB\n")
        let t = try f.load()
        #expect(!(t.isFromNodeDirectory))
        #expect(t.nodeLimit == 1)
        #expect(t.cpuLimit == 6)
        #expect(t.onlineNodes == [0])
        #expect(Array(t.cpus(of: 0)) == [0, 1, 2, 5])
        #expect(t.node(ofCPU: 5) == 0)
        #expect(t.node(ofCPU: 3) == nil)
        #expect(t.memoryBytes(of: 0) == 2 << 20)
        #expect(t.freeMemoryBytes(of: 0) == 1 << 20)
        #expect(t.distance(from: 0, to: 0) == 10)
    }

    // MARK: Errors name the file and the text

    @Test func malformedListsNameTheFileAndText() throws {
        let cases: [(String, String, Int)] = [("0-,3", "online", 0), ("3-1", "online", 0), ("0-1,x", "online", 4),
                                               ("0-1,", "online", 4), ("0 1", "online", 0), ("0-1;", "has_memory", 0)]
        for (text, file, offset) in cases {
            let f = try Fixture.twoNodes()
            try f.write("devices/system/node/\(file)", text + "\n")
            let error = f.loadError()
            #expect(error == .malformedList(file: f.nodeDirectory + "/" + file, text: text, offset: offset), "\(text)")
            #expect(error?.description.contains("\"\(text)\"") ?? false, "\(error?.description ?? "")")
            #expect(error?.description.contains(f.nodeDirectory + "/" + file) ?? false, "\(error?.description ?? "")")
        }
        let f = try Fixture.twoNodes()
        try f.write("devices/system/node/node1/cpulist", "2-3,a\n")
        #expect(f.loadError() == .malformedList(file: f.nodeDirectory + "/node1/cpulist", text: "2-3,a", offset: 4))
        try f.write("devices/system/node/online", "\n")
        #expect(f.loadError() == .malformedList(file: f.nodeDirectory + "/online", text: "", offset: 0), "no online node")
    }

    @Test func aDistanceRowOfTheWrongLengthOrNotNumbersIsAnError() throws {
        let f = try Fixture.twoNodes()
        try f.write("devices/system/node/node1/distance", "21 10 30\n")
        let error = f.loadError()
        #expect(error == .distanceRowLength(file: f.nodeDirectory + "/node1/distance", text: "21 10 30", expected: 2, found: 3))
        #expect(error?.description == "distance row in \(f.nodeDirectory)/node1/distance has 3 entries, expected 2 (one per online node): \"21 10 30\"")
        try f.write("devices/system/node/node1/distance", "21\n")
        #expect(f.loadError() == .distanceRowLength(file: f.nodeDirectory + "/node1/distance", text: "21", expected: 2, found: 1))
        try f.write("devices/system/node/node0/distance", "10 2x\n")
        #expect(f.loadError() == .malformedDistance(file: f.nodeDirectory + "/node0/distance", text: "10 2x"))
    }

    @Test func meminfoWithoutMemFreeOrWithAnotherUnitThanKBIsAnError() throws {
        let f = try Fixture.twoNodes()
        try f.write("devices/system/node/node0/meminfo", "Node 0 MemTotal:  100 kB\nNode 0 MemUsed: 3 kB\n")
        #expect(f.loadError() == .malformedMeminfo(file: f.nodeDirectory + "/node0/meminfo", key: "MemFree:",
                                                        text: "Node 0 MemTotal:  100 kB\nNode 0 MemUsed: 3 kB"))
        try f.write("devices/system/node/node0/meminfo", "Node 0 MemTotal:  100 MB\nNode 0 MemFree: 3 kB\n")
        #expect(f.loadError() == .malformedMeminfo(file: f.nodeDirectory + "/node0/meminfo", key: "MemTotal:",
                                                        text: "Node 0 MemTotal:  100 MB\nNode 0 MemFree: 3 kB"))
    }

    @Test func aMissingRequiredFileIsAnError() throws {
        let f = try Fixture.twoNodes()
        try f.remove("devices/system/node/node1/cpulist")
        let error = f.loadError()
        #expect(error == .unreadable(file: f.nodeDirectory + "/node1/cpulist", errno: ENOENT))
        #expect(error?.description == "cannot read \(f.nodeDirectory)/node1/cpulist: errno 2")
        let bare = try Fixture()   // neither node directory nor cpu/online
        #expect(bare.loadError() == .unreadable(file: bare.rootPath + "/devices/system/cpu/online", errno: ENOENT))
    }

    @Test func aCPUListedInTwoNodesIsAnError() throws {
        let f = try Fixture.twoNodes()
        try f.write("devices/system/node/node1/cpulist", "1-3\n")
        #expect(f.loadError() == .cpuInTwoNodes(cpu: 1, first: 0, second: 1, file: f.nodeDirectory + "/node1/cpulist"))
    }

    @Test func nodesAndCPUsBeyondCapacityAreErrorsOrTruncated() throws {
        let f = try Fixture.twoNodes()
        try f.write("devices/system/node/possible", "0-64\n")
        #expect(f.loadError() == .nodeBeyondCapacity(file: f.nodeDirectory + "/possible", node: 64, capacity: 64))
        let t = try f.load(truncating: true)
        #expect(t.isTruncated)
        #expect(t.nodeLimit == 64)
        #expect(t.onlineNodes == [0, 1])

        let g = try Fixture.twoNodes()
        try g.write("devices/system/node/node1/cpulist", "2-3,1024-1030\n")
        let error = g.loadError()
        #expect(error == .cpuBeyondCapacity(file: g.nodeDirectory + "/node1/cpulist", cpu: 1024, capacity: 1024))
        #expect(error?.description == "\(g.nodeDirectory)/node1/cpulist names CPU 1024; a topology holds CPUs 0..<1024 only")
        let u = try g.load(truncating: true)
        #expect(u.isTruncated)
        #expect(Array(u.cpus(of: 1)) == [2, 3])

        let h = try Fixture.twoNodes()
        try h.write("devices/system/cpu/possible", "0-8191\n")
        #expect(h.loadError() == .cpuBeyondCapacity(file: h.rootPath + "/devices/system/cpu/possible", cpu: 8191, capacity: 1024))
        #expect(try h.load(truncating: true).cpuLimit == 1024)
    }

    @Test func aFileOrPathTooLongIsAnError() throws {
        let f = try Fixture.twoNodes()
        try f.write("devices/system/node/node0/meminfo", String(repeating: "x", count: TopologyStorage.fileCapacity + 1))
        #expect(f.loadError() == .fileTooLong(file: f.nodeDirectory + "/node0/meminfo", limit: TopologyStorage.fileCapacity))
        let longRoot = "/" + String(repeating: "r", count: 5000)
        let error = #expect(throws: TopologyError.self) { try SystemTopology(sysfsRoot: longRoot) }
        guard case .pathTooLong(let path, let limit)? = error else { Issue.record("\(String(describing: error))"); return }
        #expect(limit == TopologyStorage.pathCapacity - 64)
        #expect(longRoot.hasPrefix(path))
    }

    // MARK: The machine

    /// `.current` against /sys read here with Foundation, independently of the loader.
    @Test func currentAgreesWithSysfs() throws {
        let t = SystemTopology.current
        #expect(t.loadProblem == nil, "\(t.loadProblem.map(String.init(describing:)) ?? "")")
        #expect(!(t.isTruncated))
        func read(_ path: String) -> String? { try? String(contentsOfFile: path, encoding: .utf8).trimmingCharacters(in: .whitespacesAndNewlines) }
        func list(_ text: String) -> [Int] {
            text.split(separator: ",").flatMap { item -> [Int] in
                let bounds = item.split(separator: "-").map { Int($0)! }
                return Array(bounds[0]...bounds[bounds.count - 1])
            }
        }
        let base = "/sys/devices/system/node"
        guard let online = read(base + "/online").map(list) else {
            #expect(!(t.isFromNodeDirectory))
            #expect(Array(t.cpus(of: 0)) == list(read("/sys/devices/system/cpu/online")!))
            return
        }
        #expect(t.isFromNodeDirectory)
        #expect(t.onlineNodes == online)
        #expect(t.nodeLimit == (list(read(base + "/possible") ?? "0").max()! + 1))
        #expect(t.memoryNodes == list(read(base + "/has_memory")!))
        for n in online {
            let cpus = list(read("\(base)/node\(n)/cpulist")!)
            #expect(Array(t.cpus(of: n)) == cpus, "node \(n)")
            for c in cpus { #expect(t.node(ofCPU: c) == n, "CPU \(c)") }
            let row = read("\(base)/node\(n)/distance")!.split(separator: " ").map { Int($0)! }
            #expect(online.map { t.distance(from: n, to: $0) } == row, "distances from node \(n)")
            let total = read("\(base)/node\(n)/meminfo")!.split(separator: "\n").first { $0.contains("MemTotal:") }!
            #expect(t.memoryBytes(of: n) == Int(total.split(separator: " ").dropLast().last!)! * 1024, "node \(n)")
            #expect(t.freeMemoryBytes(of: n) > 0)
        }
        let possibleCPUs = list(read("/sys/devices/system/cpu/possible")!)
        #expect(t.cpuLimit == possibleCPUs.max()! + 1)
        #expect(SystemTopology.current.storage == t.storage, "loaded once per process")
    }

    @Test func theCurrentCPUIsInItsNode() {
        let t = SystemTopology.current
        for _ in 0..<100 {
            let cpu = SystemTopology.currentCPU()
            #expect((0..<t.cpuLimit).contains(cpu))
            #expect(t.node(ofCPU: cpu) != nil, "CPU \(cpu) is in no node")
            let both = SystemTopology.currentCPUAndNode()
            #expect(t.node(ofCPU: both.cpu) == both.node, "getcpu says CPU \(both.cpu) is on node \(both.node)")
        }
    }

    @Test func concurrentLoadsAgree() {
        // Loads from many threads at once: each gets a complete snapshot equal to the machine's.
        let results = UnsafeMutablePointer<UInt>.allocate(capacity: 8)
        defer { results.deallocate() }
        let pointer = UInt(bitPattern: results)
        DispatchQueue.concurrentPerform(iterations: 8) { i in
            let p = SystemTopology.loadSnapshot(sysfsRoot: "/sys", meminfoPath: "/proc/meminfo")
            UnsafeMutablePointer<UInt>(bitPattern: pointer)![i] = UInt(bitPattern: p)
        }
        let current = SystemTopology.current
        for i in 0..<8 {
            let t = SystemTopology(storage: UnsafeRawPointer(bitPattern: results[i])!, owner: StorageOwner(UnsafeMutableRawPointer(bitPattern: results[i])!))
            #expect(t.onlineNodes == current.onlineNodes)
            #expect(t.cpus(of: 0) == current.cpus(of: 0))
            #expect(t.memoryBytes(of: 0) == current.memoryBytes(of: 0))
        }
    }

    // MARK: Non-allocation

    /// The loader behind `.current` runs inside `malloc`: everything it can
    /// reach in this (debug) test binary must stay off the Swift heap and off
    /// malloc. Walks the call graph from `SystemTopology.current` and
    /// `loadSnapshot` in the disassembly of this executable and fails on any
    /// call outside the allowed externals (open/read/close/mmap/munmap,
    /// sysconf, swift_retain/release and exclusivity checks) or any indirect
    /// call. FatalMessage (the non-allocating crash reporter, tested on its
    /// own) is a leaf.
    static let objdump = ["/usr/bin/objdump", "/usr/local/bin/objdump"].first { FileManager.default.isExecutableFile(atPath: $0) }

    @Test(.enabled(if: objdump != nil, "objdump (binutils) is needed to read this binary's disassembly"))
    func currentReachesNoAllocator() throws {
        let objdump = try #require(Self.objdump)
        let exe = try FileManager.default.destinationOfSymbolicLink(atPath: "/proc/self/exe")
        let process = Process()
        process.executableURL = URL(fileURLWithPath: objdump)
        process.arguments = ["-d", "--no-show-raw-insn", exe]
        let pipe = Pipe()
        process.standardOutput = pipe
        try process.run()
        let data = pipe.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        let text = String(decoding: data, as: UTF8.self)

        // function → (direct callees, indirect call count)
        var calls: [String: Set<String>] = [:]
        var indirect: [String: Int] = [:]
        var current = ""
        for line in text.split(separator: "\n", omittingEmptySubsequences: true) {
            if line.hasSuffix(">:"), let open = line.firstIndex(of: "<") {
                current = String(line[line.index(after: open)..<line.index(line.endIndex, offsetBy: -2)])
                calls[current, default: []] = []
                continue
            }
            let fields = line.split(separator: "\t")
            guard fields.count >= 2 else { continue }
            let instruction = fields[1].trimmingCharacters(in: .whitespaces)
            guard instruction.hasPrefix("call") || instruction.hasPrefix("jmp") else { continue }
            if let open = instruction.firstIndex(of: "<"), let close = instruction.lastIndex(of: ">") {
                var target = String(instruction[instruction.index(after: open)..<close])
                if let plus = target.range(of: "+0x") { target = String(target[..<plus.lowerBound]) }
                if target == current { continue }   // jumps within the function
                calls[current, default: []].insert(target)
            } else if instruction.hasPrefix("call") && instruction.contains("*") {
                indirect[current, default: 0] += 1
            }
        }
        // The load, and the queries the heap makes while it creates itself.
        let rootNames = ["V7currentACvgZ", "V12loadSnapshot", "V8isOnlineySbSiF", "V9hasMemoryySbSiF", "V11memoryBytes2ofS2i_tF",
                         "V4node5ofCPUSiSgSi_tF", "V8distance4from2toS2i_SitF", "V4cpus2ofAA6CPUSetVSi_tF"]
        // Optimised builds add specialised copies (suffix "Tf…"): walk them all.
        func isRoot(_ name: String, _ root: String) -> Bool {
            name.hasPrefix("$s8Platform14SystemTopology") && (name.hasSuffix(root) || name.contains(root + "9sysfsRoot") || name.contains(root + "Tf"))
        }
        let roots = calls.keys.filter { name in rootNames.contains { isRoot(name, $0) } }
        for root in rootNames where !roots.contains(where: { isRoot($0, root) }) {
            Issue.record("no function SystemTopology…\(root) in the disassembly")
        }
        let allowed: Set<String> = [
            "open", "open64", "read", "close", "mmap", "mmap64", "munmap", "__errno_location", "sysconf",
            "sched_getcpu", "syscall", "abort", "write", "memset", "memcpy", "memmove", "__stack_chk_fail",
            // Reference counting of the (nil for `current`) owner, and debug exclusivity checks: no allocation.
            "swift_retain", "swift_release", "swift_bridgeObjectRetain", "swift_bridgeObjectRelease",
            "swift_beginAccess", "swift_endAccess",
            // Debug builds' trap on overflow or a failed unwrap (release builds: ud2): the process dies there.
            "$ss17_assertionFailure__4file4line5flagss5NeverOs12StaticStringV_A2HSus6UInt32VtF",
            // cpus(of:): the raw load of one CPUSet, unspecialised in debug builds; CPUSet's metadata is static.
            "$sSV4load14fromByteOffset2asxSi_xmtlF",
        ]
        var seen: Set<String> = []
        var queue = roots
        var problems: [String] = []
        while let function = queue.popLast() {
            guard seen.insert(function).inserted else { continue }
            if function.contains("12FatalMessageV") { continue }
            if let n = indirect[function] { problems.append("\(function): \(n) indirect call(s)") }
            for callee in calls[function] ?? [] {
                let name = callee.hasSuffix("@plt") ? String(callee.dropLast(4)) : callee
                if calls[name] != nil && !callee.hasSuffix("@plt") {
                    queue.append(name)
                } else if !allowed.contains(name) {
                    problems.append("\(function) calls \(name)")
                }
            }
        }
        #expect(seen.count > 5, "walked \(seen.sorted())")
        #expect(seen.contains { $0.contains("numaheap_read_file") }, "the walk reaches the C reader")
        #expect(problems == [], "reachable from SystemTopology.current")
    }

    // MARK: Layout

    @Test func storageLayoutFits() {
        #expect(TopologyStorage.maximumCPUs == CPUSet.capacity)
        #expect(MemoryLayout<CPUSet>.stride == 128)
        #expect(MemoryLayout<TopologyStorage.Header>.size <= TopologyStorage.errorPathOffset)
        #expect(TopologyStorage.cpuNodeOffset + TopologyStorage.maximumCPUs <= TopologyStorage.storageBytes)
        #expect(TopologyStorage.storageBytes % 4096 == 0)
    }
}

@Suite struct FixedTopologyTests {
    @Test func fixedTopologyOfConsecutiveNodes() {
        let t = FixedTopology(nodeCount: 2, cpusPerNode: 3)
        #expect(t.nodeLimit == 2)
        #expect(t.cpuLimit == 6)
        #expect(t.onlineNodes == [0, 1])
        #expect(t.memoryNodes == [0, 1])
        #expect(Array(t.cpus(of: 1)) == [3, 4, 5])
        #expect(t.node(ofCPU: 4) == 1)
        #expect(t.node(ofCPU: 6) == nil)
        #expect(t.distance(from: 0, to: 0) == 10)
        #expect(t.distance(from: 0, to: 1) == 20)
        #expect(t.distance(from: 0, to: 2) == 0)
    }

    @Test func gapsMemoryOnlyNodesAndDistances() {
        let t = FixedTopology(nodes: [.init(number: 0, cpus: [0, 1]), .init(number: 2, cpus: [], memoryBytes: 1 << 20),
                                      .init(number: 3, cpus: [2], memoryBytes: 0)],
                              distances: [[10, 30, 21], [30, 10, 31], [21, 31, 10]])
        #expect(t.nodeLimit == 4)
        #expect(t.onlineNodes == [0, 2, 3])
        #expect(t.memoryNodes == [0, 2])
        #expect(!(t.hasCPUs(2)))
        #expect(t.hasCPUs(3))
        #expect(t.distance(from: 2, to: 3) == 31, "distances index by position in `nodes`, not node number")
        #expect(t.distance(from: 1, to: 0) == 0)
        #expect(t.freeMemoryBytes(of: 2) == 1 << 20)
    }
}

@Suite struct CPUSetTests {
    @Test func insertContainsCountAndOrder() {
        var s = CPUSet()
        #expect(s.isEmpty)
        for c in [1023, 0, 64, 63, 5, 64] { s.insert(c) }
        s.insert(1024)
        s.insert(-1)
        #expect(s.count == 5)
        #expect(Array(s) == [0, 5, 63, 64, 1023])
        #expect(s.contains(63))
        #expect(!(s.contains(62)))
        #expect(!(s.contains(1024)))
        #expect(s == CPUSet([1023, 64, 63, 5, 0]))
        #expect(s != CPUSet([0, 5, 63, 64]))
        #expect(Set([s, CPUSet([0, 5, 63, 64, 1023])]).count == 1)
    }
}
