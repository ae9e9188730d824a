import Glibc
import Platform
import Testing

/// `RawLock`: mutual exclusion across threads, `tryLock`, and the mutex kind
/// (glibc's adaptive mutex, which spins a bounded while before sleeping).
@Suite struct RawLockTests {
    final class Shared: @unchecked Sendable {
        let storage = UnsafeMutableRawPointer.allocate(byteCount: RawLock.byteCount, alignment: 64)
        let lock: RawLock
        var counter = 0
        init() { lock = RawLock(initializingAt: storage) }
        deinit { storage.deallocate() }
    }

    @Test func excludesAcrossThreads() {
        let shared = Shared()
        let threads = 4, rounds = 200_000
        var handles: [pthread_t] = []
        for _ in 0..<threads {
            var t = pthread_t()
            let box = Unmanaged.passRetained(shared).toOpaque()
            #expect(pthread_create(&t, nil, { arg in
                let s = Unmanaged<Shared>.fromOpaque(arg!).takeRetainedValue()
                for _ in 0..<200_000 {
                    s.lock.lock()
                    // A non-atomic read-modify-write with a yield point inside:
                    // without exclusion, increments are lost.
                    let v = s.counter
                    if v & 1023 == 0 { sched_yield() }
                    s.counter = v + 1
                    s.lock.unlock()
                }
                return nil
            }, box) == 0)
            handles.append(t)
        }
        for t in handles { pthread_join(t, nil) }
        #expect(shared.counter == threads * rounds)
    }

    @Test func tryLockFailsWhileHeld() {
        let shared = Shared()
        #expect(shared.lock.tryLock())
        var t = pthread_t()
        let box = Unmanaged.passRetained(shared).toOpaque()
        var result: UnsafeMutableRawPointer? = nil
        pthread_create(&t, nil, { arg in
            let s = Unmanaged<Shared>.fromOpaque(arg!).takeRetainedValue()
            return UnsafeMutableRawPointer(bitPattern: s.lock.tryLock() ? 1 : 2)
        }, box)
        pthread_join(t, &result)
        #expect(result == UnsafeMutableRawPointer(bitPattern: 2), "another thread took a held lock")
        shared.lock.unlock()
        #expect(shared.lock.tryLock())
        shared.lock.unlock()
    }

    @Test func isAnAdaptiveMutexAlsoAfterReinitializing() {
        let shared = Shared()
        // glibc's mutex kind field: PTHREAD_MUTEX_ADAPTIVE_NP is 3.
        let kind = { shared.storage.assumingMemoryBound(to: pthread_mutex_t.self).pointee.__data.__kind }
        #expect(kind() == 3)
        shared.lock.reinitialize()
        #expect(kind() == 3)
    }
}
