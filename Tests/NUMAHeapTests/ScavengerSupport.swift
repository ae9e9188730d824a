// Helpers for the scavenger tests: RSS from /proc/self/statm, patterned blocks,
// pointer tables in memory the test maps itself (so the test's own bookkeeping
// does not sit in the RSS it measures).
import Glibc
import NUMAHeap
import Testing

/// Whether the wall-clock timing tests run: NUMAHEAP_TIMING_TESTS=1 (.ci/run's
/// timing step runs them alone, one at a time).
let timingTestsEnabled = getenv("NUMAHEAP_TIMING_TESTS").map { String(cString: $0) == "1" } ?? false

/// The scavenger's timing tests — RSS within 5 s of a 1 GiB free with only the
/// background worker (two child processes) and the pacing churn's CPU share —
/// one at a time, and only with NUMAHEAP_TIMING_TESTS=1: each measures CPU
/// time spent releasing pages against wall-clock time, and that cost rises by
/// a third to a half when another process faults and frees pages alongside on
/// a small machine. Their arithmetic (ScavengePacer's bound, the burst credit)
/// is tested on a simulated clock in Packages/Scavenger's GoalAndPacerTests.
@Suite(.serialized, .enabled(if: timingTestsEnabled, "wall-clock timing: NUMAHEAP_TIMING_TESTS=1 (.ci/run's timing step)"))
struct ScavengerTimingTests {}

enum ProcMemory {
    /// Resident bytes of this process (/proc/self/statm, second field).
    static var residentBytes: Int {
        let fd = open("/proc/self/statm", O_RDONLY)
        guard fd >= 0 else { return 0 }
        defer { close(fd) }
        var buffer = [UInt8](repeating: 0, count: 256)
        let n = buffer.withUnsafeMutableBytes { read(fd, $0.baseAddress, 255) }
        guard n > 0 else { return 0 }
        var field = 0, value = 0
        for b in buffer[0..<n] {
            if b == UInt8(ascii: " ") { field += 1; if field == 2 { break }; continue }
            if field == 1 { value = value * 10 + Int(b - 48) }
        }
        return value * Int(sysconf(Int32(_SC_PAGESIZE)))
    }
}

/// A table of (pointer, size) pairs in an anonymous mapping.
struct BlockTable {
    let base: UnsafeMutablePointer<(UnsafeMutableRawPointer?, Int)>
    let capacity: Int
    var count = 0
    init(capacity: Int) {
        self.capacity = capacity
        let raw = mmap(nil, capacity * 16, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0)!
        base = raw.bindMemory(to: (UnsafeMutableRawPointer?, Int).self, capacity: capacity)
    }
    mutating func append(_ p: UnsafeMutableRawPointer, _ size: Int) {
        precondition(count < capacity)
        base[count] = (p, size)
        count += 1
    }
    subscript(i: Int) -> (UnsafeMutableRawPointer?, Int) {
        get { base[i] }
        nonmutating set { base[i] = newValue }
    }
    func unmap() { munmap(UnsafeMutableRawPointer(base), capacity * 16) }
}

/// The byte block `i` is filled with.
func patternByte(_ i: Int) -> UInt8 { UInt8(truncatingIfNeeded: i &* 37 &+ 11) | 1 }

/// Whether all `size` bytes at `p` equal `byte` (memcmp against a reference page).
func allBytes(_ p: UnsafeRawPointer, _ size: Int, equal byte: UInt8) -> Bool {
    var reference = [UInt8](repeating: byte, count: 4096)
    return reference.withUnsafeMutableBytes { ref in
        var offset = 0
        while offset < size {
            let n = min(4096, size - offset)
            if memcmp(p + offset, ref.baseAddress!, n) != 0 { return false }
            offset += n
        }
        return true
    }
}

/// The timing suites' churn: one round allocates 16 MiB in eight blocks of
/// about 2 MiB, writes every page, and frees them all.
enum ScavengerChurn {
    static func round(_ heap: Heap, _ round: Int, scratch blocks: inout [UnsafeMutableRawPointer]) throws {
        for k in 0..<8 {
            let size = (2 << 20) - (k % 4) * 4096
            let p = try heap.allocate(byteCount: size)
            memset(p, Int32(round & 0xFF), size)
            blocks.append(p)
        }
        for p in blocks { heap.deallocate(p) }
        blocks.removeAll(keepingCapacity: true)
    }
}
