// A Swift program whose malloc is NUMAHeap: it checks that the process's
// `malloc` is the one linked into this executable (not libc's), runs a
// workload of classes, arrays, dictionaries and strings, and prints what
// `Heap.shared` — the heap behind that malloc — saw. Exits 1 when either
// check fails, so CI can run it as a test.
import Glibc
import NUMAHeapAllocator

/// The file mapped at `address` (/proc/self/maps), or nil.
func mappedFile(at address: UInt) -> String? {
    guard let maps = fopen("/proc/self/maps", "r") else { return nil }
    defer { fclose(maps) }
    var line = [CChar](repeating: 0, count: 4096)
    while fgets(&line, Int32(line.count), maps) != nil {
        let text = String(cString: line).trimmingSuffix("\n")
        let fields = text.split(separator: " ", omittingEmptySubsequences: true)
        let range = fields[0].split(separator: "-")
        guard fields.count >= 6, let low = UInt(range[0], radix: 16), let high = UInt(range[1], radix: 16) else { continue }
        if address >= low && address < high { return String(fields[5]) }
    }
    return nil
}

/// The file that defines `name` as the dynamic linker resolves it for the
/// whole process (the definition every shared library's call binds to).
func definingObject(of name: String) -> String? {
    let rtldDefault = UnsafeMutableRawPointer(bitPattern: 0)  // RTLD_DEFAULT is ((void *)0) in glibc
    guard let symbol = dlsym(rtldDefault, name) else { return nil }
    return mappedFile(at: UInt(bitPattern: symbol))
}

extension String {
    func trimmingSuffix(_ suffix: String) -> String { hasSuffix(suffix) ? String(dropLast(suffix.count)) : self }
}

func fail(_ message: String) -> Never {
    print("linked-allocator-example: \(message)")
    exit(1)
}

// 1. The process's malloc and free are this executable's.
let executable = CommandLine.arguments[0]
for name in ["malloc", "free", "calloc", "realloc", "posix_memalign"] {
    guard let object = definingObject(of: name) else { fail("\(name) does not resolve") }
    if object.contains("libc.so") { fail("\(name) resolves to \(object), not to NUMAHeap") }
    print("\(name): \(object)")
}
// A block from C's malloc belongs to Heap.shared.
guard let probe = malloc(100) else { fail("malloc(100) returned NULL") }
guard Heap.shared.owns(probe) else { fail("malloc(100) returned \(probe), which Heap.shared does not own") }
free(probe)

// 2. A workload of the kind Swift programs are made of.
final class Node {
    var value: Int
    var name: String
    var children: [Node] = []
    init(value: Int, name: String) {
        self.value = value
        self.name = name
    }
}

func workload(rounds: Int) -> Int {
    var checksum = 0
    for round in 0..<rounds {
        var index: [String: Node] = [:]
        let root = Node(value: round, name: "root")
        for i in 0..<2_000 {
            let node = Node(value: i, name: "node-\(round)-\(i)")
            root.children.append(node)
            index[node.name] = node
        }
        var words: [String] = []
        for (name, node) in index where node.value % 3 == 0 {
            words.append(name.uppercased())
        }
        checksum &+= words.joined(separator: ",").utf8.count &+ index.count &+ root.children.count
    }
    return checksum
}

let before = Heap.shared.statistics
let checksum = workload(rounds: 50)
Heap.shared.flushThreadCache()
let after = Heap.shared.statistics

// 3. What the heap behind malloc saw.
let mallocs = after.mallocs - before.mallocs
print("workload checksum: \(checksum)")
print("Heap.shared: \(mallocs) allocations during the workload, \(after.liveObjects) live blocks, "
    + "\(after.inUseBytes) bytes in use in spans, \(after.mappedBytes) bytes mapped, "
    + "\(after.nodes.count) node(s)")
if mallocs < 50 * 2_000 { fail("expected at least \(50 * 2_000) allocations through Heap.shared, saw \(mallocs)") }
print("linked-allocator-example: ok")
