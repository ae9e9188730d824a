import CPlatform

/// Randomness the kernel hands every process at exec (the auxiliary vector's
/// `AT_RANDOM`), read without a system call or an allocation — for keys a
/// heap picks at creation, where `getrandom` could block early in boot and
/// Swift's `SystemRandomNumberGenerator` is out of reach (it may allocate).
public enum ProcessRandom {
    /// Eight random bytes, the same for the life of the process; 0 when the
    /// kernel gave none. Mix them with something per use (an address, a clock).
    @inlinable
    public static var seed: UInt64 { numaheap_auxv_random() }
}
