import Central
import Glibc
import Platform
import Synchronization

/// Links one thread to its cache in one heap.
///
/// A thread's bindings form a list headed by the thread-local slot
/// ``ThreadLocalSlot/cache``, most recently used first, so the allocation fast
/// path is one thread-local load and one compare of the heap's identity.
/// Bindings live in a process-wide pool that is never unmapped: a binding may
/// outlive its heap (a thread that used a heap that was later destroyed), so
/// nothing reads a binding's cache before checking, under the registry lock,
/// that its heap is still alive.
struct ThreadBinding {
    /// The heap's identity (``HeapState/id``; never reused).
    var heapID: UInt
    /// The cache, in the heap's memory: only valid while that heap is alive.
    var cache: UnsafeMutablePointer<ThreadCache>
    /// Next binding of the same thread (or, when pooled, next free binding).
    var next: UnsafeMutablePointer<ThreadBinding>?
}

/// Process-wide registry of live heaps and the pool of bindings.
///
/// ## Lock rule
/// `registryMutex` protects `liveHeaps`, the binding pool and each heap's
/// `registryLink`. It is taken when a thread first uses a heap, when a thread
/// exits (to flush its caches into live heaps — while holding it the exiting
/// thread takes central and node locks), and when a heap is destroyed. It is
/// never taken on an allocation or free fast path.
enum HeapRegistry {
    nonisolated(unsafe) static var registryMutex = pthread_mutex_t()
    nonisolated(unsafe) static var liveHeaps: UnsafeMutablePointer<HeapState>? = nil
    nonisolated(unsafe) static var freeBindings: UnsafeMutablePointer<ThreadBinding>? = nil
    nonisolated(unsafe) static var bindingKey = pthread_key_t()
    /// 0: key not created; 1: being created; 2: ready.
    static let keyState = Atomic<Int>(0)
    /// Next heap identity.
    static let nextHeapID = Atomic<Int>(1)

    /// A new heap identity (never reused in this process).
    static func takeHeapID() -> UInt {
        UInt(bitPattern: nextHeapID.add(1, ordering: .relaxed).oldValue)
    }

    static func lock() { pthread_mutex_lock(&registryMutex) }
    static func unlock() { pthread_mutex_unlock(&registryMutex) }

    static func register(_ heap: UnsafeMutablePointer<HeapState>) {
        lock()
        heap.pointee.registryLink.pointee = liveHeaps
        liveHeaps = heap
        unlock()
    }

    static func unregister(_ heap: UnsafeMutablePointer<HeapState>) {
        lock()
        var link: UnsafeMutablePointer<HeapState>? = liveHeaps
        var previous: UnsafeMutablePointer<HeapState>? = nil
        while let h = link, h != heap {
            previous = h
            link = h.pointee.registryLink.pointee
        }
        if link != nil {
            let next = heap.pointee.registryLink.pointee
            if let p = previous { p.pointee.registryLink.pointee = next } else { liveHeaps = next }
        }
        unlock()
    }

    /// The live heap with `id`. Registry lock held.
    static func find(_ id: UInt) -> UnsafeMutablePointer<HeapState>? {
        var link = liveHeaps
        while let h = link {
            if h.pointee.id == id { return h }
            link = h.pointee.registryLink.pointee
        }
        return nil
    }

    /// Creates the pthread key whose destructor flushes an exiting thread's
    /// caches. Lock-free once ready; no lazy global initialiser.
    static func ensureKey() {
        if keyState.load(ordering: .acquiring) == 2 { return }
        if keyState.compareExchange(expected: 0, desired: 1, ordering: .acquiringAndReleasing).exchanged {
            let rc = pthread_key_create(&bindingKey) { value in HeapRegistry.threadExited(value) }
            if rc != 0 { FatalMessage("NUMAHeap: pthread_key_create failed with ").decimal(Int(rc)).crash() }
            keyState.store(2, ordering: .releasing)
        } else {
            while keyState.load(ordering: .acquiring) != 2 { sched_yield() }
        }
    }

    /// A binding from the pool. Registry lock held.
    static func takeBinding() -> UnsafeMutablePointer<ThreadBinding> {
        if freeBindings == nil {
            let bytes = 64 << 10
            guard case .success(let chunk) = SystemMemory.mapAnonymous(bytes: bytes) else {
                FatalMessage("NUMAHeap: cannot map memory for thread bindings").crash()
            }
            let n = bytes / MemoryLayout<ThreadBinding>.stride
            let all = chunk.bindMemory(to: ThreadBinding.self, capacity: n)
            for i in 0..<n {
                (all + i).initialize(to: ThreadBinding(heapID: 0, cache: UnsafeMutablePointer(bitPattern: 8)!,
                                                       next: i + 1 < n ? all + i + 1 : nil))
            }
            freeBindings = all
        }
        let b = freeBindings!
        freeBindings = b.pointee.next
        b.pointee.next = nil
        return b
    }

    /// The pthread key destructor: flush every cache of the exiting thread into
    /// its heap, if that heap is still alive, and return the bindings.
    static func threadExited(_ value: UnsafeMutableRawPointer?) {
        var link = value?.assumingMemoryBound(to: ThreadBinding.self)
        ThreadLocalSlot.cache.value = nil
        lock()
        while let b = link {
            link = b.pointee.next
            if let heap = find(b.pointee.heapID) {
                HeapState.retire(cache: b.pointee.cache, of: heap)
            }
            b.pointee.heapID = 0
            b.pointee.next = freeBindings
            freeBindings = b
        }
        unlock()
    }
}

extension HeapState {
    /// The calling thread's cache in the heap at `state`, created on first use.
    @inline(__always)
    static func currentCache(_ state: UnsafeMutablePointer<HeapState>) -> UnsafeMutablePointer<ThreadCache> {
        cache(state, threadBindings: ThreadLocalSlot.cache.value)
    }

    /// ``currentCache(_:)`` given the thread's ``ThreadLocalSlot/cache`` value,
    /// read by the caller (the malloc library reads it on the C side).
    @inline(__always)
    static func cache(_ state: UnsafeMutablePointer<HeapState>,
                      threadBindings: UnsafeMutableRawPointer?) -> UnsafeMutablePointer<ThreadCache> {
        boundCache(state, threadBindings: threadBindings) ?? bindSlow(state)
    }

    /// The thread's cache in the heap at `state` when the thread's first
    /// binding (`threadBindings`, its ``ThreadLocalSlot/cache`` value) is to
    /// this heap; nil otherwise (then ``bindSlow(_:)``). One load and one compare.
    @inline(__always)
    static func boundCache(_ state: UnsafeMutablePointer<HeapState>,
                           threadBindings: UnsafeMutableRawPointer?) -> UnsafeMutablePointer<ThreadCache>? {
        guard let b = threadBindings?.assumingMemoryBound(to: ThreadBinding.self),
              _fastPath(b.pointee.heapID == state.pointee.id) else { return nil }
        return b.pointee.cache
    }

    /// Finds (moving it to the front) or creates the thread's binding to this heap.
    @inline(never)
    static func bindSlow(_ state: UnsafeMutablePointer<HeapState>) -> UnsafeMutablePointer<ThreadCache> {
        let id = state.pointee.id
        let head = ThreadLocalSlot.cache.value?.assumingMemoryBound(to: ThreadBinding.self)
        var previous: UnsafeMutablePointer<ThreadBinding>? = nil
        var link = head
        while let b = link {
            if b.pointee.heapID == id {
                if let p = previous {  // Move to the front.
                    p.pointee.next = b.pointee.next
                    b.pointee.next = head
                    ThreadLocalSlot.cache.value = UnsafeMutableRawPointer(b)
                    pthread_setspecific(HeapRegistry.bindingKey, b)
                }
                return b.pointee.cache
            }
            previous = b
            link = b.pointee.next
        }
        HeapRegistry.ensureKey()
        let cache = HeapState.newCache(state)
        HeapRegistry.lock()
        let b = HeapRegistry.takeBinding()
        HeapRegistry.unlock()
        b.pointee.heapID = id
        b.pointee.cache = cache
        b.pointee.next = head
        ThreadLocalSlot.cache.value = UnsafeMutableRawPointer(b)
        pthread_setspecific(HeapRegistry.bindingKey, b)
        HeapCore(state: state).registerThreadGuards(cache)
        return cache
    }

    /// The calling thread's cache for this heap if it has one (no creation).
    @inline(__always)
    static func existingCache(_ state: UnsafeMutablePointer<HeapState>) -> UnsafeMutablePointer<ThreadCache>? {
        if let b = ThreadLocalSlot.cache.value?.assumingMemoryBound(to: ThreadBinding.self),
           b.pointee.heapID == state.pointee.id {
            return b.pointee.cache
        }
        return nil
    }
}
