import Glibc
import NUMAHeap
import Platform

/// What a benchmark loop needs from an allocator. Every workload is a generic
/// function over this protocol, called with one concrete struct per allocator,
/// so the optimiser specialises each loop per allocator: no existential, no
/// witness-table call, nothing allocated in the loop but the blocks measured.
protocol BenchAllocator {
    /// The allocator's name, for failure messages.
    static var label: StaticString { get }
    func allocate(_ byteCount: Int) -> UnsafeMutableRawPointer
    func deallocate(_ pointer: UnsafeMutableRawPointer)
    /// Where the kernel put the pages of `[pointer, pointer + byteCount)`.
    func placement(of pointer: UnsafeRawPointer, byteCount: Int) -> Result<PlacementReport, SystemError>
}

extension BenchAllocator {
    /// `move_pages(2)` on any memory: what `Heap.verifyPlacement` asks too.
    func placement(of pointer: UnsafeRawPointer, byteCount: Int) -> Result<PlacementReport, SystemError> {
        PlacementReport.of(pointer, byteCount: byteCount)
    }
}

/// NUMAHeap through its public API (the run's heap — bound to the node being
/// measured, or `Heap.shared` — 16-byte alignment, as `malloc` guarantees on x86_64).
struct NUMAHeapBenchAllocator: BenchAllocator {
    static let label: StaticString = "NUMAHeap"
    let heap: Heap
    @inline(__always)
    func allocate(_ byteCount: Int) -> UnsafeMutableRawPointer {
        do { return try heap.allocate(byteCount: byteCount, alignment: 16) } catch {
            benchFailure("NUMAHeap: allocate(\(byteCount)) threw \(error)")
        }
    }
    @inline(__always)
    func deallocate(_ pointer: UnsafeMutableRawPointer) { heap.deallocate(pointer) }
    func placement(of pointer: UnsafeRawPointer, byteCount: Int) -> Result<PlacementReport, SystemError> {
        heap.verifyPlacement(pointer, byteCount: byteCount)
    }
}

/// The system allocator: glibc's `malloc`/`free`, called directly.
struct GlibcBenchAllocator: BenchAllocator {
    static let label: StaticString = "glibc"
    @inline(__always)
    func allocate(_ byteCount: Int) -> UnsafeMutableRawPointer {
        guard let p = malloc(byteCount) else { benchFailure("glibc: malloc(\(byteCount)) returned NULL") }
        return p
    }
    @inline(__always)
    func deallocate(_ pointer: UnsafeMutableRawPointer) { free(pointer) }
}

typealias MallocFunction = @convention(c) (Int) -> UnsafeMutableRawPointer?
typealias FreeFunction = @convention(c) (UnsafeMutableRawPointer?) -> Void

/// `malloc`/`free` of an allocator loaded with `dlopen`.
struct LoadedFunctions {
    let malloc: MallocFunction
    let free: FreeFunction
}

/// An allocator in a shared library: its own entry points, resolved by dlsym.
protocol LoadedBenchAllocator: BenchAllocator {
    var functions: LoadedFunctions { get }
}

extension LoadedBenchAllocator {
    @inline(__always)
    func allocate(_ byteCount: Int) -> UnsafeMutableRawPointer {
        guard let p = functions.malloc(byteCount) else { benchFailure("\(Self.label): malloc(\(byteCount)) returned NULL") }
        return p
    }
    @inline(__always)
    func deallocate(_ pointer: UnsafeMutableRawPointer) { functions.free(pointer) }
}

struct JemallocBenchAllocator: LoadedBenchAllocator {
    static let label: StaticString = "jemalloc"
    let functions: LoadedFunctions
}

struct TCMallocBenchAllocator: LoadedBenchAllocator {
    static let label: StaticString = "tcmalloc"
    let functions: LoadedFunctions
}

struct MimallocBenchAllocator: LoadedBenchAllocator {
    static let label: StaticString = "mimalloc"
    let functions: LoadedFunctions
}

/// The allocators `numaheap bench` knows, in column order.
enum AllocatorKind: String, CaseIterable {
    case numaheap = "NUMAHeap"
    case glibc
    case jemalloc
    case tcmalloc
    case mimalloc

    /// The shared library and the entry points tried in order (the prefixed
    /// ones first, so a build without the plain `malloc` override still loads).
    var library: (soname: String, symbols: [(malloc: String, free: String)], package: String)? {
        switch self {
        case .numaheap, .glibc: return nil
        case .jemalloc: return ("libjemalloc.so.2", [("malloc", "free")], "libjemalloc2")
        case .tcmalloc: return ("libtcmalloc_minimal.so.4", [("tc_malloc", "tc_free"), ("malloc", "free")], "libtcmalloc-minimal4")
        case .mimalloc: return ("libmimalloc.so.2", [("mi_malloc", "mi_free"), ("malloc", "free")], "libmimalloc2.0")
        }
    }
}

/// An allocator ready to measure.
struct LoadedAllocator {
    let kind: AllocatorKind
    let functions: LoadedFunctions?
    /// NUMAHeap only: the heap to measure (nil: `Heap.shared`). The per-node
    /// runs give each node a heap bound to it.
    var heap: Heap? = nil

    /// This allocator measured on `heap` (NUMAHeap) — the others are unchanged.
    func on(_ heap: Heap?) -> LoadedAllocator {
        var copy = self
        if kind == .numaheap { copy.heap = heap }
        return copy
    }

    /// Loads `kind`; for a library allocator, nil and the reason when its
    /// library is missing or lacks the entry points.
    static func load(_ kind: AllocatorKind) -> (LoadedAllocator?, String?) {
        guard let library = kind.library else { return (LoadedAllocator(kind: kind, functions: nil), nil) }
        guard let handle = dlopen(library.soname, RTLD_NOW | RTLD_LOCAL) else {
            let reason = dlerror().map { String(cString: $0) } ?? "dlopen failed"
            if reason.contains("cannot open shared object file") {
                return (nil, "not installed (\(library.soname); Debian package \(library.package))")
            }
            return (nil, "cannot be loaded: \(reason)")
        }
        // dlsym on a handle also searches the library's dependencies, libc
        // among them: an entry point equal to libc's is not the library's own.
        let libc = dlopen("libc.so.6", RTLD_NOW | RTLD_NOLOAD)
        for names in library.symbols {
            guard let m = dlsym(handle, names.malloc), let f = dlsym(handle, names.free),
                  m != dlsym(libc, names.malloc), f != dlsym(libc, names.free) else { continue }
            return (LoadedAllocator(kind: kind, functions: LoadedFunctions(
                malloc: unsafeBitCast(m, to: MallocFunction.self),
                free: unsafeBitCast(f, to: FreeFunction.self))), nil)
        }
        return (nil, "\(library.soname) exports no malloc/free of its own")
    }

    /// Calls `body` with this allocator as its concrete struct: the one place
    /// that turns the runtime choice into a static type, outside every loop.
    func with<Result>(_ body: some AllocatorConsumer<Result>) -> Result {
        switch kind {
        case .numaheap: return body.consume(NUMAHeapBenchAllocator(heap: heap ?? Heap.shared))
        case .glibc: return body.consume(GlibcBenchAllocator())
        case .jemalloc: return body.consume(JemallocBenchAllocator(functions: functions!))
        case .tcmalloc: return body.consume(TCMallocBenchAllocator(functions: functions!))
        case .mimalloc: return body.consume(MimallocBenchAllocator(functions: functions!))
        }
    }
}

/// A generic operation over an allocator (Swift has no generic closures).
protocol AllocatorConsumer<Result> {
    associatedtype Result
    func consume<A: BenchAllocator>(_ allocator: A) -> Result
}

/// Stops the benchmark: an allocator failed or handed out corrupt memory.
func benchFailure(_ message: String) -> Never {
    var line = "numaheap bench: FAILED: " + message + "\n"
    line.withUTF8 { _ = write(2, $0.baseAddress, $0.count) }
    exit(2)
}
