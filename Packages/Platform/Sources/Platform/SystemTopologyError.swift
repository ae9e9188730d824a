/// Why ``SystemTopology/init(sysfsRoot:meminfoPath:truncating:)`` could not read a topology:
/// each case names the file and, where there is one, the text it objected to.
public enum TopologyError: Error, Equatable, Sendable, CustomStringConvertible {
    /// A file that must exist could not be read (`errno`).
    case unreadable(file: String, errno: Int32)
    /// The file is larger than the loader's buffer (`limit` bytes).
    case fileTooLong(file: String, limit: Int)
    /// A list file (`online`, `has_memory`, `cpulist`, …) is not kernel list
    /// syntax ("0-3,5,7-8"); `offset` is the byte where the bad item starts.
    case malformedList(file: String, text: String, offset: Int)
    /// A meminfo file has no `<key> <digits> kB` line for `key`.
    case malformedMeminfo(file: String, key: String, text: String)
    /// A distance row holds something other than numbers separated by spaces.
    case malformedDistance(file: String, text: String)
    /// A distance row has not one number per online node.
    case distanceRowLength(file: String, text: String, expected: Int, found: Int)
    /// A node number at or above the 64 nodes a topology can describe.
    case nodeBeyondCapacity(file: String, node: Int, capacity: Int)
    /// A CPU number at or above ``CPUSet/capacity``.
    case cpuBeyondCapacity(file: String, cpu: Int, capacity: Int)
    /// A CPU listed in the `cpulist` of two nodes.
    case cpuInTwoNodes(cpu: Int, first: Int, second: Int, file: String)
    /// The root path does not fit the loader's path buffer.
    case pathTooLong(path: String, limit: Int)

    public var description: String {
        switch self {
        case .unreadable(let file, let errno):
            return "cannot read \(file): errno \(errno)"
        case .fileTooLong(let file, let limit):
            return "\(file) is longer than \(limit) bytes"
        case .malformedList(let file, let text, let offset):
            return "malformed list in \(file): \"\(text)\" (bad item at byte \(offset); expected e.g. \"0-3,5,7-8\")"
        case .malformedMeminfo(let file, let key, let text):
            return "malformed meminfo \(file): no \"\(key) <number> kB\" line in \"\(text)\""
        case .malformedDistance(let file, let text):
            return "malformed distance row in \(file): \"\(text)\" (expected numbers separated by spaces)"
        case .distanceRowLength(let file, let text, let expected, let found):
            return "distance row in \(file) has \(found) entries, expected \(expected) (one per online node): \"\(text)\""
        case .nodeBeyondCapacity(let file, let node, let capacity):
            return "\(file) names node \(node); a topology holds nodes 0..<\(capacity) only"
        case .cpuBeyondCapacity(let file, let cpu, let capacity):
            return "\(file) names CPU \(cpu); a topology holds CPUs 0..<\(capacity) only"
        case .cpuInTwoNodes(let cpu, let first, let second, let file):
            return "CPU \(cpu) is in node \(first) and again in node \(second) (\(file))"
        case .pathTooLong(let path, let limit):
            return "sysfs root path is longer than \(limit) bytes: \(path)"
        }
    }

    /// The error a load recorded in its storage (see `TopologyLoader.fail`), as
    /// text; nil when the load succeeded. Allocates: call it outside `malloc`.
    init?(recordedIn storage: UnsafeRawPointer) {
        let header = TopologyStorage.header(storage).pointee
        guard let code = TopologyErrorCode(rawValue: header.errorCode) else { return nil }
        let file = String(decoding: UnsafeRawBufferPointer(start: storage + TopologyStorage.errorPathOffset, count: header.errorPathLength), as: UTF8.self)
        let text = String(decoding: UnsafeRawBufferPointer(start: storage + TopologyStorage.errorTextOffset, count: header.errorTextLength), as: UTF8.self)
        let (a, b, c) = header.errorNumbers
        switch code {
        case .unreadable: self = .unreadable(file: file, errno: Int32(a))
        case .fileTooLong: self = .fileTooLong(file: file, limit: a)
        case .malformedList: self = .malformedList(file: file, text: text, offset: a)
        case .malformedMeminfoTotal: self = .malformedMeminfo(file: file, key: "MemTotal:", text: text)
        case .malformedMeminfoFree: self = .malformedMeminfo(file: file, key: "MemFree:", text: text)
        case .malformedDistance: self = .malformedDistance(file: file, text: text)
        case .distanceRowLength: self = .distanceRowLength(file: file, text: text, expected: a, found: b)
        case .nodeBeyondCapacity: self = .nodeBeyondCapacity(file: file, node: a, capacity: TopologyStorage.maximumNodes)
        case .cpuBeyondCapacity: self = .cpuBeyondCapacity(file: file, cpu: a, capacity: TopologyStorage.maximumCPUs)
        case .cpuInTwoNodes: self = .cpuInTwoNodes(cpu: a, first: b, second: c, file: file)
        case .pathTooLong: self = .pathTooLong(path: text, limit: a)
        }
    }
}

/// How a load records its error in the storage without allocating: a code,
/// up to three numbers, the file's path and the offending text.
enum TopologyErrorCode: Int {
    case unreadable = 1, fileTooLong, malformedList, malformedMeminfoTotal, malformedMeminfoFree,
         malformedDistance, distanceRowLength, nodeBeyondCapacity, cpuBeyondCapacity, cpuInTwoNodes, pathTooLong
}
