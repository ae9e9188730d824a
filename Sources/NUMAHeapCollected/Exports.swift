// The NUMAHeap types a user of `CollectedHeap(configuration:)` names — its
// configuration and its errors — without importing NUMAHeap itself.
@_exported import struct NUMAHeap.HeapConfiguration
@_exported import enum NUMAHeap.HeapError
