import CPlatform
import Glibc

/// An `errno` value from a failed system call, with the call's name.
public struct SystemError: Error, Equatable, CustomStringConvertible {
    /// The system call that failed, e.g. `"mmap"`.
    public var call: StaticString
    /// The `errno` it left.
    public var code: Int32

    public init(call: StaticString, code: Int32) {
        self.call = call
        self.code = code
    }

    public static func == (a: SystemError, b: SystemError) -> Bool {
        a.code == b.code && a.call.utf8Start == b.call.utf8Start
    }

    public var description: String { "\(call) failed with errno \(code)" }

    @usableFromInline static func last(_ call: StaticString) -> SystemError {
        SystemError(call: call, code: numaheap_errno())
    }
}

/// Advice passed to `madvise(2)`. Values are Glibc's `MADV_*` (Linux's).
public struct MemoryAdvice: RawRepresentable, Equatable, Sendable {
    public var rawValue: Int32
    public init(rawValue: Int32) { self.rawValue = rawValue }
    /// `MADV_DONTNEED`: drop the pages now; they read as zero afterwards.
    public static let dontNeed = MemoryAdvice(rawValue: MADV_DONTNEED)
    /// `MADV_FREE`: the kernel may drop the pages lazily; until then they keep their contents.
    public static let free = MemoryAdvice(rawValue: MADV_FREE)
    /// `MADV_HUGEPAGE`: back the range with transparent huge pages where possible.
    public static let hugePage = MemoryAdvice(rawValue: MADV_HUGEPAGE)
    /// `MADV_NOHUGEPAGE`: never back the range with transparent huge pages.
    public static let noHugePage = MemoryAdvice(rawValue: MADV_NOHUGEPAGE)
}

/// Raw virtual-memory operations: the system calls under `AddressSpace`-style
/// abstractions in the packages above. Each returns a ``SystemError`` naming the
/// call and `errno` instead of crashing, so callers can test their failure paths.
public enum SystemMemory {
    /// The kernel's page size (`sysconf(_SC_PAGESIZE)`, read from the auxiliary
    /// vector, no system call), usually 4096. Computed, so it never runs a lazy
    /// initialiser.
    @inlinable public static var physicalPageSize: Int { Int(sysconf_pagesize()) }

    /// Reserves `bytes` of address space with no access, preferably at `hint`.
    /// The kernel may place it elsewhere; check the result.
    @inlinable
    public static func reserve(bytes: Int, hint: UInt = 0) -> Result<UnsafeMutableRawPointer, SystemError> {
        guard let p = numaheap_mmap_reserve(UnsafeMutableRawPointer(bitPattern: hint), bytes) else {
            return .failure(.last("mmap"))
        }
        return .success(p)
    }

    /// Maps `bytes` of fresh, zeroed, readable and writable memory.
    @inlinable
    public static func mapAnonymous(bytes: Int, hint: UInt = 0) -> Result<UnsafeMutableRawPointer, SystemError> {
        guard let p = numaheap_mmap_anonymous(UnsafeMutableRawPointer(bitPattern: hint), bytes) else {
            return .failure(.last("mmap"))
        }
        return .success(p)
    }

    /// Makes reserved memory readable and writable.
    @inlinable
    public static func commit(_ address: UnsafeMutableRawPointer, bytes: Int) -> Result<Void, SystemError> {
        numaheap_commit(address, bytes) == 0 ? .success(()) : .failure(.last("mprotect"))
    }

    /// Unmaps a range entirely.
    @inlinable
    public static func unmap(_ address: UnsafeMutableRawPointer, bytes: Int) -> Result<Void, SystemError> {
        numaheap_unmap(address, bytes) == 0 ? .success(()) : .failure(.last("munmap"))
    }

    /// `madvise(2)`.
    @inlinable
    public static func advise(_ address: UnsafeMutableRawPointer, bytes: Int, _ advice: MemoryAdvice) -> Result<Void, SystemError> {
        numaheap_madvise(address, bytes, advice.rawValue) == 0 ? .success(()) : .failure(.last("madvise"))
    }
}
