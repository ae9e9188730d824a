// The topology types a user of `Heap(configuration:topology:)` names, without
// importing Platform (the syscall layer) itself.
@_exported import protocol Platform.NUMATopology
@_exported import struct Platform.FixedTopology
@_exported import struct Platform.CPUSet
@_exported import struct Platform.SystemError
