import Glibc
import Platform
import Testing

@Suite struct FatalMessageTests {
    func rendered(_ m: FatalMessage) -> String {
        m.withBytes { String(decoding: $0, as: UTF8.self) }
    }

    @Test func formatsTextHexAndDecimal() {
        let m = FatalMessage("free of ").hex(UInt(0xdead_beef)).text(": ").decimal(-42).text(" ").decimal(0)
        #expect(rendered(m) == "free of 0xdeadbeef: -42 0")
        #expect(rendered(FatalMessage("").hex(UInt(0))) == "0x0")
        #expect(rendered(FatalMessage("").decimal(Int.min)) == "-9223372036854775808")
        #expect(rendered(FatalMessage("").decimal(UInt.max)) == "18446744073709551615")
        #expect(rendered(FatalMessage("").hex(UInt.max)) == "0xffffffffffffffff")
    }

    @Test func truncatesInsteadOfAllocating() {
        var m = FatalMessage("x")
        for _ in 0..<100 { m = m.text("0123456789") }
        #expect(m.count == 511)
    }

    @Test func crashWritesTheMessageAndAborts() async {
        let result = await #expect(processExitsWith: .signal(SIGABRT), observing: [\.standardErrorContent]) {
            FatalMessage("PlatformTests: bad pointer ").hex(UInt(0x1234)).text(" size ").decimal(7).crash()
        }
        let text = String(decoding: result?.standardErrorContent ?? [], as: UTF8.self)
        #expect(text.contains("PlatformTests: bad pointer 0x1234 size 7\n"))
    }
}

@Suite struct SystemMemoryTests {
    @Test func reserveCommitAdviseUnmap() throws {
        let page = SystemMemory.physicalPageSize
        #expect(page >= 4096 && page & (page - 1) == 0)
        let p = try SystemMemory.reserve(bytes: 16 * page).get()
        try SystemMemory.commit(p, bytes: 4 * page).get()
        p.storeBytes(of: 0xABCD, as: Int.self)
        #expect(p.load(as: Int.self) == 0xABCD)
        try SystemMemory.advise(p, bytes: 4 * page, .dontNeed).get()
        #expect(p.load(as: Int.self) == 0)  // DONTNEED pages read back as zero.
        try SystemMemory.unmap(p, bytes: 16 * page).get()
    }

    @Test func failuresReportTheCallAndErrno() {
        // An unaligned address is EINVAL for madvise.
        let bad = UnsafeMutableRawPointer(bitPattern: 1)!
        guard case .failure(let e) = SystemMemory.advise(bad, bytes: 4096, .dontNeed) else {
            Issue.record("madvise on an unaligned address succeeded"); return
        }
        #expect(e.code == EINVAL)
        #expect(e.description == "madvise failed with errno \(EINVAL)")
    }
}

@Suite struct ThreadLocalTests {
    @Test func slotsArePerThread() throws {
        ThreadLocalSlot.spare.value = UnsafeMutableRawPointer(bitPattern: 0x1000)
        var thread = pthread_t()
        let seen = UnsafeMutablePointer<UInt>.allocate(capacity: 1)
        defer { seen.deallocate() }
        seen.pointee = 99
        let rc = pthread_create(&thread, nil, { arg in
            let out = arg!.assumingMemoryBound(to: UInt.self)
            out.pointee = UInt(bitPattern: ThreadLocalSlot.spare.value)
            return nil
        }, seen)
        #expect(rc == 0)
        pthread_join(thread, nil)
        #expect(seen.pointee == 0)
        #expect(ThreadLocalSlot.spare.value == UnsafeMutableRawPointer(bitPattern: 0x1000))
        ThreadLocalSlot.spare.value = nil
    }
}
