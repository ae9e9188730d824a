import CPlatform
import Glibc
import Synchronization

/// A `pthread_mutex_t` living in memory its owner mapped (never on the Swift heap).
///
/// NUMAHeap's locks live inside metadata it maps itself (the heap, each central
/// list), so they cannot be `Synchronization.Mutex` values, which are tied to
/// Swift storage. Uncontended lock+unlock measured ~6 ns here, against ~33 ns for
/// `Mutex.withLock`.
///
/// The mutex is glibc's adaptive kind (`PTHREAD_MUTEX_ADAPTIVE_NP`): a thread
/// that finds it held spins a bounded while (glibc's adaptive count, about 100
/// rounds) before it sleeps in `futex`, as the Go runtime's locks spin before
/// they sleep. The heap's critical sections are short (a page-allocator search,
/// a list splice), so a waiter usually gets the lock while spinning instead of
/// paying a futex sleep and wake-up on each side: with a plain mutex, two threads
/// of the malloc library's `sizemix` workload spent ~17% of their time in futex
/// wake-ups and context switches on the node heap's lock; adaptive, the workload
/// ran 1.5× faster (median of 5 alternating runs, 7.4 → 11.4 M ops/s, 2-core VM).
/// The spin is bounded, so a waiter whose holder was descheduled still sleeps.
///
/// A `RawLock` is a pointer: copies name the same lock. Its owner documents, next
/// to the field, who may hold it and what it protects (see the Go runtime's lock
/// comments for the model).
///
/// ## Counters
/// Each lock counts its acquisitions and, of those, the contended ones: those
/// that found it held (the `trylock` that every ``lock()`` starts with failed),
/// so the thread spun or slept in `futex` before it got the lock. Both are
/// written only by the thread that holds the lock — a relaxed load and store
/// each, no read-modify-write instruction — and read by anyone with a relaxed
/// load (statistics), so they cost the holder two stores to a line it already
/// owns. They are not reset by ``reinitialize()``.
public struct RawLock: @unchecked Sendable {
    @usableFromInline let mutex: UnsafeMutablePointer<pthread_mutex_t>

    /// The acquisition and contention counters, just after the mutex.
    @usableFromInline struct Counters: ~Copyable {
        @usableFromInline let acquisitions: Atomic<Int>
        @usableFromInline let contended: Atomic<Int>
    }

    @usableFromInline static var countersOffset: Int {
        (MemoryLayout<pthread_mutex_t>.stride + 7) & ~7
    }

    /// Bytes a lock needs (the mutex and its counters); reserve this much
    /// (8-byte aligned) in mapped memory.
    public static var byteCount: Int { countersOffset + MemoryLayout<Counters>.stride }

    @usableFromInline var counters: UnsafeMutablePointer<Counters> {
        (UnsafeMutableRawPointer(mutex) + RawLock.countersOffset).assumingMemoryBound(to: Counters.self)
    }

    /// Initialises a lock in place at `address` (which must stay mapped while
    /// used), its counters at zero.
    public init(initializingAt address: UnsafeMutableRawPointer) {
        mutex = address.bindMemory(to: pthread_mutex_t.self, capacity: 1)
        let rc = numaheap_mutex_init_adaptive(mutex)
        if rc != 0 { FatalMessage("RawLock: pthread_mutex_init failed with ").decimal(Int(rc)).crash() }
        (address + RawLock.countersOffset).bindMemory(to: Counters.self, capacity: 1)
            .initialize(to: Counters(acquisitions: Atomic(0), contended: Atomic(0)))
    }

    /// A lock already initialised at `address`.
    public init(existingAt address: UnsafeMutableRawPointer) {
        mutex = address.assumingMemoryBound(to: pthread_mutex_t.self)
    }

    /// Takes the lock, counting the acquisition (and the contention when the
    /// lock was held: then glibc's adaptive lock spins, then sleeps).
    @inlinable public func lock() {
        if _slowPath(pthread_mutex_trylock(mutex) != 0) {
            let rc = pthread_mutex_lock(mutex)
            if _slowPath(rc != 0) { RawLock.failed("lock", rc) }
            RawLock.bump(counters.pointee.contended)
        }
        RawLock.bump(counters.pointee.acquisitions)
    }

    /// Adds one to a counter only the lock's holder writes (no locked instruction).
    @inlinable @inline(__always)
    static func bump(_ counter: borrowing Atomic<Int>) {
        counter.store(counter.load(ordering: .relaxed) &+ 1, ordering: .relaxed)
    }

    /// Acquisitions since the lock was initialised (relaxed; readable by any thread).
    public var acquisitions: Int { counters.pointee.acquisitions.load(ordering: .relaxed) }
    /// Of those, the ones that found the lock held.
    public var contendedAcquisitions: Int { counters.pointee.contended.load(ordering: .relaxed) }

    @inlinable public func unlock() {
        let rc = pthread_mutex_unlock(mutex)
        if _slowPath(rc != 0) { RawLock.failed("unlock", rc) }
    }

    /// Takes the lock if it is free; true when taken (and counted).
    @inlinable public func tryLock() -> Bool {
        guard pthread_mutex_trylock(mutex) == 0 else { return false }
        RawLock.bump(counters.pointee.acquisitions)
        return true
    }

    /// Runs `body` holding the lock.
    @inlinable public func withLock<R, E: Error>(_ body: () throws(E) -> R) throws(E) -> R {
        lock()
        defer { unlock() }
        return try body()
    }

    /// Re-initialises the lock unlocked: for a child after `fork()`, where the
    /// thread that held it no longer exists.
    public func reinitialize() { _ = numaheap_mutex_init_adaptive(mutex) }

    @usableFromInline @inline(never)
    static func failed(_ what: StaticString, _ rc: Int32) -> Never {
        FatalMessage("RawLock: pthread_mutex_").text(what).text(" failed with ").decimal(Int(rc)).crash()
    }
}
