import Glibc
import GCBits
import Platform
import Synchronization
import Testing

/// 8-byte aligned scratch memory for bitmaps that do not come from arenas.
struct Scratch: ~Copyable {
    let base: UnsafeMutableRawPointer
    let bytes: Int
    init(bytes: Int) {
        self.bytes = bytes
        base = UnsafeMutableRawPointer.allocate(byteCount: bytes, alignment: 8)
        base.initializeMemory(as: UInt8.self, repeating: 0, count: bytes)
    }
    var bits: GCBits { GCBits(base) }
    deinit { base.deallocate() }
}

/// Checks every bit and byte of `bits` against a reference model.
func expectMatches(_ bits: GCBits, _ reference: [Bool], sourceLocation: SourceLocation = #_sourceLocation) -> Bool {
    for (n, expected) in reference.enumerated() where bits.isSet(n) != expected || bits.testAtomic(n) != expected {
        Issue.record("bit \(n): expected \(expected)", sourceLocation: sourceLocation)
        return false
    }
    for byte in 0..<(reference.count / 8) {
        var expected: UInt8 = 0
        for k in 0..<8 where reference[byte * 8 + k] { expected |= 1 << k }
        if bits.bytep(byte).pointee != expected {
            Issue.record("byte \(byte): \(bits.bytep(byte).pointee) != \(expected)", sourceLocation: sourceLocation)
            return false
        }
    }
    return true
}

private final class ThreadBody: @unchecked Sendable {
    let body: () -> Void
    init(_ body: @escaping () -> Void) { self.body = body }
}

/// Runs `body(i)` for i in 0..<count, each on its own pthread, released together
/// from a start barrier so that they overlap; returns when all have finished.
func runThreads(_ count: Int, _ body: @escaping @Sendable (Int) -> Void) {
    let ready = UnsafeMutablePointer<Atomic<Int>>.allocate(capacity: 1)
    ready.initialize(to: Atomic(0))
    defer { ready.deinitialize(count: 1); ready.deallocate() }
    let readyAddress = UInt(bitPattern: ready)
    var threads: [pthread_t] = []
    for i in 0..<count {
        let box = Unmanaged.passRetained(ThreadBody {
            let r = UnsafeMutablePointer<Atomic<Int>>(bitPattern: readyAddress)!
            r.pointee.add(1, ordering: .acquiringAndReleasing)
            while r.pointee.load(ordering: .acquiring) < count { sched_yield() }
            body(i)
        }).toOpaque()
        var thread = pthread_t()
        let rc = pthread_create(&thread, nil, { arg in
            Unmanaged<ThreadBody>.fromOpaque(arg!).takeRetainedValue().body()
            return nil
        }, box)
        precondition(rc == 0, "pthread_create failed: \(rc)")
        threads.append(thread)
    }
    for t in threads { pthread_join(t, nil) }
}

/// A shared atomic counter for test threads.
final class Counter: Sendable {
    let value = Atomic<Int>(0)
}
