import Platform

/// Why ``ArenaMap`` could not grow. The heap maps every case to its out-of-memory
/// error; the cases say which resource ran out, for statistics and tests.
public enum ArenaMapError: Error, Equatable, Sendable {
    /// Reserving `requested` more bytes would take the map past its configured
    /// address-space limit (`mapped` are reserved already).
    case addressSpaceLimit(requested: Int, mapped: Int, limit: Int)
    /// The address space refused the reservation (`mmap` failed, e.g. `ENOMEM`).
    case reserveFailed(SystemError)
    /// The only space the kernel offered lies outside the 48-bit range the index covers.
    case outOfRange(base: UInt, bytes: Int)
    /// Binding the new arenas to `node` failed (e.g. `EPERM`, `EINVAL`); nothing was
    /// reserved. The heap may retry without a binding.
    case bindFailed(node: Int32, SystemError)
    /// Making the range readable and writable failed.
    case commitFailed(SystemError)
    /// The map could not map metadata for the new arenas; nothing was reserved.
    case metadataFailed(SystemError)
}
