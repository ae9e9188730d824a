import Platform

/// The operating-system seam under ``ArenaMap``: everything the heap asks of the
/// kernel's virtual memory for its arenas.
///
/// ``SystemAddressSpace`` is the real one (`mmap`, `mprotect`, `munmap`, `mbind`)
/// and the one the heap uses; the map is generic over this protocol so that its
/// tests can hand it a fake (ArenaMapTests' `FakeAddressSpace`: synthetic
/// addresses, recorded calls, injected failures).
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
/// writable, backed on first touch); ``unreserve(_:bytes:)`` → *None*. The map
/// never takes a range back from *Ready*: the heap returns free pages to the
/// kernel itself (`SystemMemory.advise`, through the scavenger), not through
/// this protocol.
public protocol AddressSpace {
    /// Reserves `bytes` of address space with no access, at `hint` when that range
    /// is free, elsewhere otherwise (as `mmap` without `MAP_FIXED` does). `hint` 0
    /// means anywhere.
    func reserve(bytes: Int, hint: UInt) -> Result<UInt, SystemError>
    /// Returns a reserved (or committed) range to the system entirely (`munmap`).
    func unreserve(_ base: UInt, bytes: Int) -> Result<Void, SystemError>
    /// Makes a reserved range readable and writable.
    func commit(_ base: UInt, bytes: Int) -> Result<Void, SystemError>
    /// Sets the NUMA memory policy of a range to `node` (`mbind`), before its pages
    /// are first touched.
    func bind(_ base: UInt, bytes: Int, node: Int32, policy: MemoryBindPolicy) -> Result<Void, SystemError>
}
