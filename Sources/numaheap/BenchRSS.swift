import Glibc

// Peak RSS for many live small blocks, measured in a child process per
// allocator (this executable again, with the hidden `--rss-child` option), so
// that each allocator's footprint is measured alone, in a fresh process.

/// Resident-set figures from /proc/self/status, in KiB.
struct ProcStatus {
    var rssKiB = 0
    var hwmKiB = 0

    /// Reads VmRSS and VmHWM from /proc/self/status into `buffer` (allocated by
    /// the caller before the measurement, so reading allocates nothing).
    static func read(into buffer: UnsafeMutableRawBufferPointer) -> ProcStatus {
        let fd = open("/proc/self/status", O_RDONLY)
        guard fd >= 0 else { return ProcStatus() }
        defer { close(fd) }
        var count = 0
        while count < buffer.count {
            let n = Glibc.read(fd, buffer.baseAddress! + count, buffer.count - count)
            if n <= 0 { break }
            count += n
        }
        let bytes = UnsafeRawBufferPointer(rebasing: buffer[0..<count])
        return ProcStatus(rssKiB: field("VmRSS:", in: bytes), hwmKiB: field("VmHWM:", in: bytes))
    }

    /// The number after `name` at the start of a line, or 0.
    private static func field(_ name: StaticString, in bytes: UnsafeRawBufferPointer) -> Int {
        let key = UnsafeRawBufferPointer(start: name.utf8Start, count: name.utf8CodeUnitCount)
        var i = 0
        while i + key.count <= bytes.count {
            if (i == 0 || bytes[i - 1] == UInt8(ascii: "\n")) && memcmp(bytes.baseAddress! + i, key.baseAddress!, key.count) == 0 {
                var j = i + key.count, value = 0
                while j < bytes.count && bytes[j] == UInt8(ascii: " ") || j < bytes.count && bytes[j] == UInt8(ascii: "\t") { j += 1 }
                while j < bytes.count && bytes[j] >= UInt8(ascii: "0") && bytes[j] <= UInt8(ascii: "9") {
                    value = value * 10 + Int(bytes[j] - UInt8(ascii: "0"))
                    j += 1
                }
                return value
            }
            i += 1
        }
        return 0
    }
}

/// What one child reports.
struct RSSResult {
    var objects = 0
    var size = 0
    /// RSS before the first allocation (allocator loaded, nothing allocated).
    var baselineKiB = 0
    /// VmHWM after the blocks were all live (peak reset at the baseline).
    var peakKiB = 0
    /// RSS after all blocks were freed.
    var afterFreeKiB = 0
    /// Wall time to allocate all blocks, ns per block.
    var fillNanoseconds = 0.0
    /// Whether /proc/self/clear_refs reset the peak at the baseline.
    var peakReset = false

    var peakGrowthKiB: Int { peakKiB - baselineKiB }
    var bytesPerObject: Double { Double(peakGrowthKiB * 1024) / Double(max(objects, 1)) }

    func encoded() -> String {
        "objects=\(objects) size=\(size) baseline_kib=\(baselineKiB) peak_kib=\(peakKiB) after_free_kib=\(afterFreeKiB) fill_ns=\(fillNanoseconds) peak_reset=\(peakReset ? 1 : 0)"
    }

    init() {}

    init?(decoding text: String) {
        var values = [String: String]()
        for pair in text.split(whereSeparator: { $0 == " " || $0 == "\n" }) {
            let kv = pair.split(separator: "=", maxSplits: 1)
            if kv.count == 2 { values[String(kv[0])] = String(kv[1]) }
        }
        guard let objects = values["objects"].flatMap({ Int($0) }), let size = values["size"].flatMap({ Int($0) }),
              let base = values["baseline_kib"].flatMap({ Int($0) }), let peak = values["peak_kib"].flatMap({ Int($0) }),
              let after = values["after_free_kib"].flatMap({ Int($0) }), let fill = values["fill_ns"].flatMap({ Double($0) })
        else { return nil }
        self.objects = objects; self.size = size; baselineKiB = base; peakKiB = peak; afterFreeKiB = after
        fillNanoseconds = fill; peakReset = values["peak_reset"] == "1"
    }
}

/// In the child: allocates `objects` blocks of `size` bytes, all live, then
/// frees them; RSS read around it.
@inline(never)
func runRSSChild<A: BenchAllocator>(_ a: A, objects: Int, size: Int, label: StaticString) -> RSSResult {
    // The pointer table and the /proc buffer come from mmap, touched now, so
    // they are in the baseline and no allocator serves them.
    let tableBytes = objects * MemoryLayout<UInt>.stride
    guard let raw = mmap(nil, tableBytes + 65536, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0),
          raw != MAP_FAILED else { benchFailure("mmap of the pointer table failed") }
    memset(raw, 1, tableBytes + 65536)
    let table = raw.bindMemory(to: UnsafeMutableRawPointer?.self, capacity: objects)
    let statusBuffer = UnsafeMutableRawBufferPointer(start: raw + tableBytes, count: 65536)

    var result = RSSResult()
    result.objects = objects
    result.size = size
    // Reset VmHWM to the current RSS (Linux ≥ 4.0), so the peak is this workload's.
    let fd = open("/proc/self/clear_refs", O_WRONLY)
    if fd >= 0 {
        result.peakReset = write(fd, "5", 1) == 1
        close(fd)
    }
    result.baselineKiB = ProcStatus.read(into: statusBuffer).rssKiB
    let start = benchNow()
    for i in 0..<objects {
        let p = a.allocate(size)
        stamp(p, size: size, tag: UInt64(i))
        table[i] = p
    }
    result.fillNanoseconds = (benchNow() - start) * 1e9 / Double(objects)
    let live = ProcStatus.read(into: statusBuffer)
    result.peakKiB = max(live.hwmKiB, live.rssKiB)
    for i in 0..<objects {
        let p = table[i].unsafelyUnwrapped
        verify(p, size: size, tag: UInt64(i), label)
        a.deallocate(p)
    }
    let after = ProcStatus.read(into: statusBuffer)
    result.afterFreeKiB = after.rssKiB
    result.peakKiB = max(result.peakKiB, after.hwmKiB)
    if !result.peakReset { result.peakKiB = max(live.rssKiB, 0) }
    munmap(raw, tableBytes + 65536)
    return result
}

struct RSSChildWorkload: AllocatorConsumer {
    let objects: Int
    let size: Int
    func consume<A: BenchAllocator>(_ a: A) -> RSSResult {
        runRSSChild(a, objects: objects, size: size, label: A.label)
    }
}

/// In the parent: runs this executable as an RSS child for `kind` and reads its report.
func spawnRSSChild(_ kind: AllocatorKind, objects: Int, size: Int) -> Result<RSSResult, RSSChildError> {
    var fds: [Int32] = [-1, -1]
    guard pipe(&fds) == 0 else { return .failure(RSSChildError(message: "pipe failed")) }
    var actions = posix_spawn_file_actions_t()
    posix_spawn_file_actions_init(&actions)
    defer { posix_spawn_file_actions_destroy(&actions) }
    posix_spawn_file_actions_adddup2(&actions, fds[1], 1)
    posix_spawn_file_actions_addclose(&actions, fds[0])
    posix_spawn_file_actions_addclose(&actions, fds[1])
    let arguments = ["numaheap", "bench", "--rss-child", kind.rawValue, "--rss-objects", String(objects), "--rss-size", String(size)]
    let argv = arguments.map { strdup($0) } + [nil]
    defer { argv.forEach { free($0) } }
    var pid: pid_t = 0
    let rc = posix_spawn(&pid, "/proc/self/exe", &actions, nil, argv, environ)
    close(fds[1])
    guard rc == 0 else {
        close(fds[0])
        return .failure(RSSChildError(message: "posix_spawn failed: \(String(cString: strerror(rc)))"))
    }
    var output = [UInt8]()
    var chunk = [UInt8](repeating: 0, count: 4096)
    while true {
        let n = chunk.withUnsafeMutableBytes { read(fds[0], $0.baseAddress, $0.count) }
        if n > 0 { output.append(contentsOf: chunk[0..<n]) } else if n == 0 || errno != EINTR { break }
    }
    close(fds[0])
    var status: Int32 = 0
    while waitpid(pid, &status, 0) < 0 && errno == EINTR {}
    let text = String(decoding: output, as: UTF8.self)
    let exited = status & 0x7f == 0, code = (status >> 8) & 0xff
    guard exited && code == 0 else {
        return .failure(RSSChildError(message: exited ? "child exited with status \(code)" : "child killed by signal \(status & 0x7f)"))
    }
    guard let result = RSSResult(decoding: text) else {
        return .failure(RSSChildError(message: "unreadable child report: \(text)"))
    }
    return .success(result)
}

struct RSSChildError: Error { var message: String }
