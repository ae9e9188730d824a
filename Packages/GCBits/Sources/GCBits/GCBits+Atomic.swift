import Platform
import Synchronization

/// The atomic facet of ``GCBits``: operations on the 64-bit word that holds a
/// bit, safe to run from several threads on the same bitmap at once.
///
/// Ordering: read-modify-writes are acquire-release and loads are acquire, like
/// Go's `atomic.Or8`/`atomic.Load8` on weakly ordered machines; on x86-64 each
/// compiles to one `lock`-prefixed instruction or a plain `mov`.
extension GCBits {
    /// The 64-bit word `index` (bits `64·index ..< 64·index + 64`) as an atomic.
    @inlinable
    func _atomicWord(_ index: Int) -> UnsafeMutablePointer<Atomic<UInt64>> {
        (base + (index << 3)).assumingMemoryBound(to: Atomic<UInt64>.self)
    }

    /// Sets bit `n` atomically (an atomic OR on its 64-bit word) and reports
    /// whether this call set it: `true` when the bit was clear before, `false`
    /// when some thread had already set it. Of any number of racing calls on
    /// the same bit, exactly one returns `true` — a collector greys an object
    /// only when its mark bit was newly set; the heap's free path detects a
    /// double free when the free bit was already set.
    @inlinable
    @discardableResult
    public func setAtomic(_ n: Int) -> Bool {
        let mask = BitIndex.mask(n)
        let old = _atomicWord(BitIndex.word(n)).pointee.bitwiseOr(mask, ordering: .acquiringAndReleasing).oldValue
        return old & mask == 0
    }

    /// Whether bit `n` is set: an atomic (acquire) load of its 64-bit word.
    @inlinable
    public func testAtomic(_ n: Int) -> Bool {
        let mask = BitIndex.mask(n)
        return _atomicWord(BitIndex.word(n)).pointee.load(ordering: .acquiring) & mask != 0
    }

    /// Atomically loads the 64-bit word `index` (little-endian bit order: bit
    /// `64·index + k` is bit `k` of the result).
    @inlinable
    public func atomicLoadWord(index: Int) -> UInt64 {
        _atomicWord(index).pointee.load(ordering: .acquiring)
    }

    /// Atomically replaces the 64-bit word `index` with `value` and returns
    /// what it held. The heap sweeps a span's concurrently-set free bits with
    /// `atomicExchangeWord(index: i, with: 0)`: every bit some thread set
    /// before the exchange is in the result, every bit set after it stays for
    /// the next sweep, none is lost or seen twice.
    @inlinable
    public func atomicExchangeWord(index: Int, with value: UInt64) -> UInt64 {
        _atomicWord(index).pointee.exchange(value, ordering: .acquiringAndReleasing)
    }
}
