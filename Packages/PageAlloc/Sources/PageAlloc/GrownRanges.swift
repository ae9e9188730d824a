// GrownRanges: the page ranges passed to grow (Go's pageAlloc.inUse), sorted by
// address, adjacent ranges merged. Lives in mapped memory that doubles when
// full; written only by grow under the owner's lock. Used to validate free and
// markScavenged, to walk the grown space from the top for the scavenger, and
// for statistics. Holds page numbers, [lo, hi).
import Platform

@usableFromInline
struct GrownRanges {
    /// Pairs (lo, hi) of page numbers; nil until the first grow.
    @usableFromInline var storage: UnsafeMutablePointer<UInt>? = nil
    @usableFromInline var count: Int = 0
    @usableFromInline var capacity: Int = 0

    @inlinable func lo(_ i: Int) -> UInt { storage.unsafelyUnwrapped[2 * i] }
    @inlinable func hi(_ i: Int) -> UInt { storage.unsafelyUnwrapped[2 * i + 1] }

    /// Index of the first range whose hi is above `page` (count if none).
    @usableFromInline func firstEnding(after page: UInt) -> Int {
        var a = 0, b = count
        while a < b {
            let m = (a + b) / 2
            if hi(m) <= page { a = m + 1 } else { b = m }
        }
        return a
    }

    /// Whether `[lo, hi)` lies inside one grown range.
    @usableFromInline func contains(_ lo: UInt, _ hi: UInt) -> Bool {
        let i = firstEnding(after: lo)
        return i < count && self.lo(i) <= lo && hi <= self.hi(i)
    }

    /// Whether `[lo, hi)` shares a page with a grown range.
    @usableFromInline func overlaps(_ lo: UInt, _ hi: UInt) -> Bool {
        let i = firstEnding(after: lo)
        return i < count && self.lo(i) < hi
    }

    /// Adds `[lo, hi)`, which overlaps nothing grown, merging with neighbours.
    mutating func add(_ lo: UInt, _ hi: UInt) {
        let i = firstEnding(after: lo)
        let joinsLeft = i > 0 && self.hi(i - 1) == lo
        let joinsRight = i < count && self.lo(i) == hi
        if joinsLeft && joinsRight {
            storage![2 * (i - 1) + 1] = self.hi(i)
            remove(at: i)
        } else if joinsLeft {
            storage![2 * (i - 1) + 1] = hi
        } else if joinsRight {
            storage![2 * i] = lo
        } else {
            insert(lo, hi, at: i)
        }
    }

    mutating func remove(at i: Int) {
        let p = storage!
        for k in i..<(count - 1) { p[2 * k] = p[2 * k + 2]; p[2 * k + 1] = p[2 * k + 3] }
        count -= 1
    }

    mutating func insert(_ lo: UInt, _ hi: UInt, at i: Int) {
        if count == capacity { expand() }
        let p = storage!
        var k = count
        while k > i { p[2 * k] = p[2 * k - 2]; p[2 * k + 1] = p[2 * k - 1]; k -= 1 }
        p[2 * i] = lo
        p[2 * i + 1] = hi
        count += 1
    }

    mutating func expand() {
        let newCapacity = capacity == 0 ? 256 : capacity * 2   // 4 KiB, then doubling
        switch SystemMemory.mapAnonymous(bytes: newCapacity * 16) {
        case .success(let raw):
            let p = raw.bindMemory(to: UInt.self, capacity: newCapacity * 2)
            if let old = storage {
                p.update(from: old, count: count * 2)
                _ = SystemMemory.unmap(UnsafeMutableRawPointer(old), bytes: capacity * 16)
            }
            storage = p
            capacity = newCapacity
        case .failure(let e):
            FatalMessage("PageAlloc: cannot map the grown-range list (").decimal(newCapacity * 16)
                .text(" bytes): errno ").decimal(Int(e.code)).crash()
        }
    }

    func release() {
        if let p = storage { _ = SystemMemory.unmap(UnsafeMutableRawPointer(p), bytes: capacity * 16) }
    }
}
