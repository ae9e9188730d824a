import ArenaMap
import Glibc
import Platform

/// An in-memory `AddressSpace` for ArenaMap's tests (internal to them; the heap
/// always uses `SystemAddressSpace`): it hands out synthetic addresses that
/// are never backed by memory (nothing may dereference them), records every call,
/// and fails on demand, so the failure paths of whatever sits on top (`ENOMEM` from
/// `reserve`, `EPERM` from `bind`) are tested paths.
///
/// Placement follows `mmap` without `MAP_FIXED`: a reservation lands at its hint
/// when the hint is page-aligned, inside `lowest..<highest` and free; otherwise it
/// lands top-down below `highest` in the highest free gap, page-aligned but
/// deliberately *not* arena-aligned, like the kernel's own choice.
///
/// A class, not thread-safe: the map calls its address space under the map lock.
final class FakeAddressSpace: AddressSpace {
    /// One call made to the fake, in order.
    enum Call: Equatable, Sendable {
        case reserve(bytes: Int, hint: UInt, result: UInt?)
        case unreserve(UInt, bytes: Int)
        case commit(UInt, bytes: Int)
        case bind(UInt, bytes: Int, node: Int32, policy: MemoryBindPolicy)
    }

    /// The errno values the fake produces (Glibc's).
    static let ENOMEM: Int32 = Glibc.ENOMEM
    static let EPERM: Int32 = Glibc.EPERM
    static let EINVAL: Int32 = Glibc.EINVAL

    /// The page granularity of placement: 4 KiB.
    let pageSize: UInt = 4096
    /// No reservation starts below this address.
    let lowest: UInt
    /// No reservation ends above this address.
    let highest: UInt

    /// Every call so far.
    private(set) var calls: [Call] = []
    /// The ranges reserved now, sorted by base.
    private(set) var reservations: [Range<UInt>] = []
    /// Ranges that are "taken by someone else" (as if another library mapped them).
    private(set) var occupied: [Range<UInt>] = []

    /// `errno` for the next ``reserveFailuresLeft`` reserve calls.
    var reserveError: Int32 = FakeAddressSpace.ENOMEM
    /// How many of the next reserve calls fail with ``reserveError``.
    var reserveFailuresLeft = 0
    /// When set, every bind fails with this `errno`.
    var bindError: Int32?
    /// When set, every commit fails with this `errno`.
    var commitError: Int32?

    /// A fake address space spanning `lowest..<highest` (user space below 2⁴⁷ by default).
    init(lowest: UInt = 0x1_0000, highest: UInt = 1 << 47) {
        self.lowest = lowest
        self.highest = highest
    }

    /// Marks `range` as taken: no reservation will be placed over it.
    func occupy(_ range: Range<UInt>) { occupied.append(range) }

    /// Bytes reserved now.
    var reservedBytes: Int { reservations.reduce(0) { $0 + Int($1.count) } }

    /// Whether all of `range` is inside current reservations.
    func isReserved(_ range: Range<UInt>) -> Bool {
        var cursor = range.lowerBound
        for r in reservations where r.lowerBound <= cursor && cursor < r.upperBound {
            cursor = r.upperBound
            if cursor >= range.upperBound { return true }
        }
        return range.isEmpty
    }

    func reserve(bytes: Int, hint: UInt) -> Result<UInt, SystemError> {
        let result = place(bytes: bytes, hint: hint)
        calls.append(.reserve(bytes: bytes, hint: hint, result: try? result.get()))
        return result
    }

    func place(bytes: Int, hint: UInt) -> Result<UInt, SystemError> {
        if reserveFailuresLeft > 0 {
            reserveFailuresLeft -= 1
            return .failure(SystemError(call: "mmap", code: reserveError))
        }
        guard bytes > 0, UInt(bytes) % pageSize == 0 else {
            return .failure(SystemError(call: "mmap", code: Self.EINVAL))
        }
        let n = UInt(bytes)
        if hint != 0, hint % pageSize == 0, hint >= lowest, hint <= highest, highest - hint >= n,
           conflict(hint..<hint + n) == nil {
            insert(hint..<hint + n)
            return .success(hint)
        }
        // Top-down, starting a few pages below the top so the result is not arena-aligned.
        var top = highest - 5 * pageSize
        while top >= n, top - n >= lowest {
            let base = (top - n) & ~(pageSize - 1)
            if let c = conflict(base..<base + n) {
                top = c.lowerBound
                continue
            }
            insert(base..<base + n)
            return .success(base)
        }
        return .failure(SystemError(call: "mmap", code: Self.ENOMEM))
    }

    func conflict(_ range: Range<UInt>) -> Range<UInt>? {
        (reservations + occupied).filter { $0.overlaps(range) }.min { $0.lowerBound < $1.lowerBound }
    }

    func insert(_ range: Range<UInt>) {
        reservations.append(range)
        reservations.sort { $0.lowerBound < $1.lowerBound }
    }

    func unreserve(_ base: UInt, bytes: Int) -> Result<Void, SystemError> {
        calls.append(.unreserve(base, bytes: bytes))
        let cut = base..<base + UInt(bytes)
        var kept: [Range<UInt>] = []
        for r in reservations {
            guard r.overlaps(cut) else { kept.append(r); continue }
            if r.lowerBound < cut.lowerBound { kept.append(r.lowerBound..<cut.lowerBound) }
            if cut.upperBound < r.upperBound { kept.append(cut.upperBound..<r.upperBound) }
        }
        reservations = kept
        return .success(())
    }

    func commit(_ base: UInt, bytes: Int) -> Result<Void, SystemError> {
        calls.append(.commit(base, bytes: bytes))
        if let e = commitError { return .failure(SystemError(call: "mprotect", code: e)) }
        return checkReserved(base, bytes, "mprotect")
    }

    func bind(_ base: UInt, bytes: Int, node: Int32, policy: MemoryBindPolicy) -> Result<Void, SystemError> {
        calls.append(.bind(base, bytes: bytes, node: node, policy: policy))
        if let e = bindError { return .failure(SystemError(call: "mbind", code: e)) }
        return checkReserved(base, bytes, "mbind")
    }

    func checkReserved(_ base: UInt, _ bytes: Int, _ call: StaticString) -> Result<Void, SystemError> {
        // The kernel answers ENOMEM for a range that is not (entirely) mapped.
        isReserved(base..<base + UInt(bytes)) ? .success(()) : .failure(SystemError(call: call, code: Self.ENOMEM))
    }
}
