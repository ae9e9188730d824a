import CPlatform

/// The calling thread's name as tools see it (`/proc/self/task/*/comm`, `top -H`,
/// gdb). Glibc's module map leaves out `pthread_setname_np`; this is its
/// self-naming half, `prctl(PR_SET_NAME)`. Allocates nothing.
public enum ThreadName {
    /// Names the calling thread; the kernel keeps the first 15 bytes.
    public static func setCurrent(_ name: StaticString) {
        _ = numaheap_name_current_thread(UnsafeRawPointer(name.utf8Start).assumingMemoryBound(to: CChar.self))
    }
}

/// The asymmetric memory barrier of membarrier(2): a thread that pays for
/// ``fenceAllThreads()`` lets other threads order their plain stores and loads
/// against it with no fence of their own (a compiler barrier suffices there).
public enum ProcessBarrier {
    /// Registers the process for ``fenceAllThreads()``; false where the kernel
    /// refuses (before 4.14, or a seccomp filter).
    public static func register() -> Bool { numaheap_membarrier_register() == 0 }
    /// Every CPU running one of this process's threads executes a full
    /// memory barrier before this returns. False when it failed (not registered).
    @discardableResult
    public static func fenceAllThreads() -> Bool { numaheap_membarrier() == 0 }
    /// The fast side's half: no load or store moves across this at compile
    /// time, and it emits no instruction. A store, this, then a load: either
    /// the thread that called ``fenceAllThreads()`` after its own store sees
    /// the store, or the load sees that thread's store.
    @inlinable @inline(__always)
    public static func compilerBarrier() { numaheap_compiler_barrier() }
}
