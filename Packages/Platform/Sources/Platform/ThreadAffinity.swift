import CPlatform

/// The CPUs the calling thread may run on (`sched_setaffinity(2)` /
/// `sched_getaffinity(2)` with pid 0, through CPlatform: Glibc's module map
/// leaves out the GNU affinity calls), for the benchmark, the tests and the
/// guest checks that pin threads to a node's CPUs.
public enum ThreadAffinity {
    /// Restricts the calling thread to `cpus`. An empty set is refused with `EINVAL`.
    @discardableResult
    public static func pinCurrentThread(to cpus: CPUSet) -> Result<Void, SystemError> {
        var mask = cpus.words
        let rc = withUnsafeBytes(of: &mask) { numaheap_sched_setaffinity($0.count, $0.baseAddress!) }
        return rc == 0 ? .success(()) : .failure(SystemError(call: "sched_setaffinity", code: numaheap_errno()))
    }

    /// The CPUs the calling thread may run on now (empty when the call fails).
    public static func currentThreadCPUs() -> CPUSet {
        var set = CPUSet()
        let rc = withUnsafeMutableBytes(of: &set.words) { numaheap_sched_getaffinity($0.count, $0.baseAddress!) }
        return rc == 0 ? set : CPUSet()
    }
}
