// HugePagePolicy: releasing in whole transparent huge pages where they are in
// play. The reference is Go 1.14 (mgcscavenge.go's findScavengeCandidate and
// mem_linux.go's sysUnused); see Docs/Scavenger.md for the reasoning.
//
// - A huge page that is wholly free is released whole: one PMD is zapped, which
//   costs ~25× less CPU than zapping its 512 small PTEs and never splits it.
// - A free run that reaches down to a huge-page boundary is extended there
//   rather than cut in the middle of the huge page (Go's rule: "we're in danger
//   of breaking apart a huge page ... include the entire huge page").
// - Releasing part of a huge page that still has live pages splits it (the
//   kernel falls back to small pages for the rest). The background worker does
//   that only when no wholly free huge page is left to release (PageScavenger's
//   second pass); releaseFreeMemory() and the memory limit release everything.
// - Go 1.14 also set MADV_NOHUGEPAGE around partial releases so khugepaged would
//   not re-collapse them; Go 1.21.1 dropped that because every toggle splits a
//   VMA (vm.max_map_count) — we never toggle on release.
import Glibc

/// How the scavenger aligns what it releases to transparent huge pages.
public struct HugePagePolicy: Sendable, Equatable {
    /// The huge page size in bytes (a power of two), or 0 when huge pages are
    /// not in play and runs are released as they are.
    public let hugePageSize: Int

    /// No huge-page alignment.
    public static let none = HugePagePolicy(hugePageSize: 0)

    public init(hugePageSize: Int) {
        self.hugePageSize = hugePageSize > 0 && hugePageSize & (hugePageSize - 1) == 0 ? hugePageSize : 0
    }

    /// Whether releases are aligned to huge pages.
    @inlinable public var isActive: Bool { hugePageSize > 0 }

    /// The whole huge pages inside `[base, end)`, or nil when there is none.
    public func wholeHugePages(base: UInt, end: UInt) -> (base: UInt, end: UInt)? {
        guard isActive else { return nil }
        let h = UInt(hugePageSize)
        let lo = (base + h - 1) & ~(h - 1), hi = end & ~(h - 1)
        return lo < hi ? (lo, hi) : nil
    }

    /// Go's rule for a piece `[start, end)` cut from the top of a free run that
    /// begins at `runBase`: when the huge page holding `start` lies within the
    /// run from its boundary, start at that boundary instead of splitting it.
    public func extendDown(start: UInt, runBase: UInt) -> UInt {
        guard isActive else { return start }
        let below = start & ~UInt(hugePageSize - 1)
        return below >= runBase ? below : start
    }

    /// The policy for this machine: active when `setting` makes the kernel back
    /// the heap with huge pages (`.always`, or `.default` with the system set to
    /// `always`), with the system's PMD size.
    public static func forSystem(heapAdvice setting: TransparentHugePageSetting) -> HugePagePolicy {
        let mode = TransparentHugePageMode.system
        let active: Bool
        switch setting {
        case .never: active = false
        case .always: active = mode != .never && mode != .unavailable
        case .default: active = mode == .always
        }
        return active ? HugePagePolicy(hugePageSize: TransparentHugePageMode.hugePageSize) : .none
    }
}

/// What the heap asks of the kernel for its arenas.
public enum TransparentHugePageSetting: Sendable, Equatable {
    /// Leave the system's setting.
    case `default`
    /// `MADV_HUGEPAGE` on arenas.
    case always
    /// `MADV_NOHUGEPAGE` on arenas.
    case never
}

/// The system's transparent-huge-page mode, from
/// `/sys/kernel/mm/transparent_hugepage/enabled`.
public enum TransparentHugePageMode: Sendable, Equatable {
    case always, madvise, never, unavailable

    /// Reads the mode now (no Swift allocation: a stack buffer).
    public static var system: TransparentHugePageMode {
        withSysfsText("/sys/kernel/mm/transparent_hugepage/enabled") { text in
            // The active mode is the bracketed one: "always [madvise] never".
            guard let open = text.firstIndex(of: UInt8(ascii: "[")) else { return .unavailable }
            switch text[open + 1] {
            case UInt8(ascii: "a"): return .always
            case UInt8(ascii: "m"): return .madvise
            case UInt8(ascii: "n"): return .never
            default: return .unavailable
            }
        } ?? .unavailable
    }

    /// The PMD huge page size (`hpage_pmd_size`), 2 MiB when unreadable.
    public static var hugePageSize: Int {
        withSysfsText("/sys/kernel/mm/transparent_hugepage/hpage_pmd_size") { text in
            var n = 0
            for b in text { if b < 48 || b > 57 { break }; n = n * 10 + Int(b - 48) }
            return n > 0 ? n : nil
        } ?? (2 << 20)
    }

    static func withSysfsText<R>(_ path: StaticString, _ body: (UnsafeRawBufferPointer) -> R?) -> R? {
        withUnsafeTemporaryAllocation(byteCount: 128, alignment: 8) { buffer in
            let fd = open(UnsafeRawPointer(path.utf8Start).assumingMemoryBound(to: CChar.self), O_RDONLY)
            if fd < 0 { return nil }
            let n = read(fd, buffer.baseAddress, buffer.count)
            close(fd)
            if n <= 0 { return nil }
            return body(UnsafeRawBufferPointer(rebasing: buffer[0..<n]))
        }
    }
}
