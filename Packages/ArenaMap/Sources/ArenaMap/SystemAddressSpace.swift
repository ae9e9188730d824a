import Platform

/// The real address space: Platform's `SystemMemory` (`mmap(PROT_NONE)`,
/// `mprotect`, `munmap`) and `mbind`. Stateless.
public struct SystemAddressSpace: AddressSpace, Sendable {
    @inlinable public init() {}

    @inlinable
    public func reserve(bytes: Int, hint: UInt) -> Result<UInt, SystemError> {
        SystemMemory.reserve(bytes: bytes, hint: hint).map { UInt(bitPattern: $0) }
    }

    @inlinable
    public func unreserve(_ base: UInt, bytes: Int) -> Result<Void, SystemError> {
        SystemMemory.unmap(_pointer(base), bytes: bytes)
    }

    @inlinable
    public func commit(_ base: UInt, bytes: Int) -> Result<Void, SystemError> {
        SystemMemory.commit(_pointer(base), bytes: bytes)
    }

    @inlinable
    public func bind(_ base: UInt, bytes: Int, node: Int32, policy: MemoryBindPolicy) -> Result<Void, SystemError> {
        SystemMemory.bindToNode(_pointer(base), bytes: bytes, node: node, policy: policy)
    }

    @inlinable
    func _pointer(_ address: UInt) -> UnsafeMutableRawPointer {
        guard let p = UnsafeMutableRawPointer(bitPattern: address) else {
            FatalMessage("ArenaMap: SystemAddressSpace called with a null address").crash()
        }
        return p
    }
}
