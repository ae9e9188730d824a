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
        // The counters are written under the lock, so they are exact too.
        #expect(shared.lock.acquisitions == threads * rounds)
        #expect(shared.lock.contendedAcquisitions <= threads * rounds)
    }

    @Test func countsAcquisitionsAndTryLocks() {
        let shared = Shared()
        #expect(shared.lock.acquisitions == 0 && shared.lock.contendedAcquisitions == 0)
        for _ in 0..<10 { shared.lock.lock(); shared.lock.unlock() }
        #expect(shared.lock.tryLock())
        shared.lock.unlock()
        #expect(shared.lock.acquisitions == 11)
        #expect(shared.lock.contendedAcquisitions == 0, "nobody else held the lock")
    }

    /// A thread that calls `lock()` while another holds the lock is counted as
    /// contended.
    @Test func countsAContendedAcquisition() {
        let shared = Shared()
        // The waiter may not reach its lock() before the holder lets go on a
        // loaded machine, so try a few rounds; one contended round suffices.
        for round in 1...20 {
            shared.lock.lock()
            shared.counter = 0
            var t = pthread_t()
            let box = Unmanaged.passRetained(shared).toOpaque()
            pthread_create(&t, nil, { arg in
                let s = Unmanaged<Shared>.fromOpaque(arg!).takeRetainedValue()
                s.lock.lock()
                s.lock.unlock()
                return nil
            }, box)
            usleep(20_000)
            shared.lock.unlock()
            pthread_join(t, nil)
            #expect(shared.lock.acquisitions == 2 * round)
            if shared.lock.contendedAcquisitions > 0 { break }
        }
        #expect(shared.lock.contendedAcquisitions == 1)
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
        #expect(shared.lock.acquisitions == 1, "a failed tryLock counts nothing")
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
