// The allocation pattern of ordinary Swift code: class instances in a tree,
// arrays that grow, dictionaries keyed by strings, string building and
// splitting — most blocks small and short-lived, some kept across rounds.
import Glibc

final class Record {
    let id: Int
    var name: String
    var tags: [String]
    var children: [Record] = []
    weak var parent: Record?

    init(id: Int, name: String, tags: [String]) {
        self.id = id
        self.name = name
        self.tags = tags
    }
}

/// Runs `rounds` rounds and returns a checksum (so nothing is optimised away).
public func runWorkload(rounds: Int) -> Int {
    var checksum = 0
    var kept: [Record] = []
    for round in 0..<rounds {
        var byName: [String: Record] = [:]
        var byTag: [String: [Int]] = [:]
        let root = Record(id: -1, name: "root-\(round)", tags: [])
        for i in 0..<1_000 {
            let record = Record(id: i, name: "record \(round).\(i)", tags: ["t\(i % 7)", "u\(i % 13)", "v\(i % 31)"])
            record.parent = root
            root.children.append(record)
            byName[record.name] = record
            for tag in record.tags { byTag[tag, default: []].append(i) }
        }
        var line = ""
        for (tag, ids) in byTag.sorted(by: { $0.key < $1.key }) {
            line += "\(tag)=\(ids.count);"
        }
        let fields = line.split(separator: ";").map { $0.uppercased() }
        checksum &+= fields.count &+ line.utf8.count &+ byName.count
        if let some = byName["record \(round).\(round % 1_000)"] {
            some.name += " (kept)"
            kept.append(some)
        }
        if kept.count > 200 { kept.removeFirst(100) }
    }
    return checksum &+ kept.count
}

/// Seconds of `CLOCK_MONOTONIC`.
public func monotonicSeconds() -> Double {
    var t = timespec()
    clock_gettime(CLOCK_MONOTONIC, &t)
    return Double(t.tv_sec) + Double(t.tv_nsec) * 1e-9
}

/// `workload-* [ROUNDS]`: runs the workload and prints its time.
public func workloadMain(label: String) {
    let rounds = CommandLine.arguments.count > 1 ? Int(CommandLine.arguments[1]) ?? -1 : 2_000
    guard rounds >= 0 else {
        print("\(label): ROUNDS must be a non-negative integer, not '\(CommandLine.arguments[1])'")
        exit(2)
    }
    let start = monotonicSeconds()
    let checksum = runWorkload(rounds: rounds)
    let seconds = monotonicSeconds() - start
    print("\(label): \(rounds) rounds in \(Int(seconds * 1e6)) µs (checksum \(checksum))")
}
