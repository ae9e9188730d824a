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
