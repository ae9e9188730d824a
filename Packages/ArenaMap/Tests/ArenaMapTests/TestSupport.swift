import ArenaMap
import Platform

let MiB = 1 << 20
let arenaBytes = ArenaLayout.heapArenaBytes
let firstHint = ArenaLayout.defaultFirstHint

/// A recognisable fake span reference for page `n` (never dereferenced).
func fakeSpan(_ n: Int) -> UnsafeMutableRawPointer {
    UnsafeMutableRawPointer(bitPattern: UInt(0x5000_0000) + UInt(n) * 16)!
}

extension Result {
    /// The success value, or nil after recording the failure.
    var value: Success? { try? get() }
    var error: Failure? {
        if case .failure(let e) = self { return e }
        return nil
    }
}

/// `"\(call)"` of a SystemError: StaticStrings from different modules compare by address.
func callName(_ e: SystemError) -> String { "\(e.call)" }
