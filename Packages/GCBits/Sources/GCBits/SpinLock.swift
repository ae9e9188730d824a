import Platform
import Synchronization

#if canImport(Glibc)
import Glibc
#endif

/// A one-word test-and-test-and-set spin lock that lives in place (in mapped
/// memory) and yields the CPU when it has spun for a while.
///
/// A zeroed word is an unlocked lock, so a control block in fresh `mmap`ed
/// memory needs no initialisation, and there is nothing to destroy (unlike a
/// `pthread_mutex_t`). It is meant for short, leaf critical sections that do not
/// block in the kernel: ``GCBitsArenas`` drops it around `mmap`, exactly where Go's
/// `newArenaMayUnlock` drops `gcBitsArenas.lock`.
///
/// Under contention a waiter spins on a plain load (so the cache line stays
/// shared) for a bounded number of tries, then calls `sched_yield()`: on an
/// oversubscribed machine the holder may have been descheduled, and spinning
/// for its whole time slice would only delay it.
@usableFromInline
struct _SpinLock: ~Copyable {
    /// 0: unlocked; 1: locked. CAS to acquire, store to release.
    @usableFromInline let word: Atomic<UInt32>

    @inlinable init() { word = Atomic(0) }

    @inlinable
    func lock() {
        if _fastPath(word.compareExchange(expected: 0, desired: 1, ordering: .acquiring).exchanged) {
            return
        }
        lockSlow()
    }

    @usableFromInline @inline(never)
    func lockSlow() {
        var spins = 0
        while true {
            if word.load(ordering: .relaxed) == 0,
               word.compareExchange(expected: 0, desired: 1, ordering: .acquiring).exchanged {
                return
            }
            spins += 1
            if spins == 64 {
                spins = 0
                _ = sched_yield()
            }
        }
    }

    /// Releases the lock; unlocking a lock that is not held is a fatal error.
    @inlinable
    func unlock() {
        let old = word.exchange(0, ordering: .releasing)
        check(old == 1, "GCBits: unlock of an unlocked GCBitsArenas lock")
    }
}
