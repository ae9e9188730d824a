import Platform

/// How freed pages are given back to the operating system.
public enum ReleaseMethod: Sendable, Equatable {
    /// `MADV_DONTNEED`: the pages are dropped now and read as zero afterwards.
    case dontNeed
    /// `MADV_FREE`: the kernel drops them lazily, under memory pressure; until then
    /// they keep their contents.
    case free
}

/// The operating-system seam under ``ArenaMap``: everything the heap asks of the
/// kernel's virtual memory for its arenas.
///
/// ``SystemAddressSpace`` is the real one (`mmap`, `mprotect`, `madvise`, `mbind`);
/// ``FakeAddressSpace`` hands out synthetic addresses and injects failures for tests.
/// Addresses are plain `UInt`s: an implementation may hand out addresses that are
/// never backed by memory, and the map never dereferences them (its own metadata is
/// always mapped with `SystemMemory` directly).
///
/// Every operation returns the failing call and `errno` instead of crashing, so the
/// heap's failure paths can be tested. Requirements are non-mutating: an
/// implementation with state is a class (the map calls it while other threads read
/// the map).
///
/// States of a range, as in Go's `mem.go`: *None* → ``reserve(bytes:hint:)`` →
/// *Reserved* (no access, no memory) → ``commit(_:bytes:)`` → *Ready* (readable,
/// writable, backed on first touch) → ``release(_:bytes:method:)`` → still *Ready*
/// but without resident pages, or ``decommit(_:bytes:)`` → *Reserved* again;
/// ``unreserve(_:bytes:)`` → *None*.
public protocol AddressSpace {
    /// Reserves `bytes` of address space with no access, at `hint` when that range
    /// is free, elsewhere otherwise (as `mmap` without `MAP_FIXED` does). `hint` 0
    /// means anywhere.
    func reserve(bytes: Int, hint: UInt) -> Result<UInt, SystemError>
    /// Returns a reserved (or committed) range to the system entirely (`munmap`).
    func unreserve(_ base: UInt, bytes: Int) -> Result<Void, SystemError>
    /// Makes a reserved range readable and writable.
    func commit(_ base: UInt, bytes: Int) -> Result<Void, SystemError>
    /// Drops a range's pages and makes it inaccessible again (Reserved).
    func decommit(_ base: UInt, bytes: Int) -> Result<Void, SystemError>
    /// Drops a committed range's pages but keeps it accessible (the scavenger's
    /// `sysUnused`).
    func release(_ base: UInt, bytes: Int, method: ReleaseMethod) -> Result<Void, SystemError>
    /// Sets the NUMA memory policy of a range to `node` (`mbind`), before its pages
    /// are first touched.
    func bind(_ base: UInt, bytes: Int, node: Int32, policy: MemoryBindPolicy) -> Result<Void, SystemError>
}
