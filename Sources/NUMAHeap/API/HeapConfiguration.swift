/// How a ``Heap`` behaves. Every option has a default that suits a general-purpose
/// allocator; `HeapConfiguration()` is the configuration of ``Heap/shared``.
public struct HeapConfiguration: Sendable, Equatable {
    /// Where memory is placed on a NUMA machine.
    public enum NUMAPolicy: Sendable, Equatable {
        /// Each thread allocates from the node of the CPU it runs on.
        case automatic
        /// One heap for the whole machine; no `mbind` calls.
        case disabled
        /// Every allocation from `node`.
        case bind(node: Int)
        /// Spans placed round-robin across nodes.
        case interleave
    }

    /// The background scavenger that returns free memory to the system.
    public enum Scavenging: Sendable, Equatable {
        /// Keep retained memory ≤ in-use × (1 + retainExtraPercent / 100).
        case background(retainExtraPercent: Int)
        /// Never release memory in the background (``Heap/releaseFreeMemory()`` still does).
        case disabled
    }

    /// How free pages are returned to the system.
    public enum ReleaseMethod: Sendable, Equatable {
        /// `MADV_DONTNEED`: RSS drops at once; released pages read as zero.
        case dontNeed
        /// `MADV_FREE`: the kernel reclaims lazily under memory pressure.
        case free
    }

    /// How strictly arenas are bound to their node (the `mbind` mode).
    public enum NodeBinding: Sendable, Equatable {
        /// `MPOL_BIND`: pages only from the node; the kernel reclaims there,
        /// or the process is killed, before it places them elsewhere.
        case strict
        /// `MPOL_PREFERRED`: the node first, any other node when it is full.
        case preferred
    }

    /// Transparent huge pages for the heap's arenas.
    public enum TransparentHugePages: Sendable, Equatable {
        /// The system's setting.
        case `default`
        /// `MADV_HUGEPAGE` on arenas.
        case always
        /// `MADV_NOHUGEPAGE` on arenas.
        case never
    }

    /// How much the heap checks the pointers it is given (Docs/Checks.md).
    /// Every misuse a tier catches stops the process with a message naming the
    /// address and the reason; nothing is corrupted first.
    public enum Checks: String, Sendable, Equatable, CaseIterable {
        /// Foreign, interior and freed-span pointers, a double free of a block
        /// whose first 16 bytes the program left alone since the first free
        /// (the free mark), and free-list links sealed and checked before use.
        case standard
        /// Everything `standard` catches, exactly: no block waits in a
        /// thread's bin (every free goes through its span's bits), so every
        /// double free is caught — also after the program wrote over the
        /// block — and so are `usableSize(of:)`, `reallocate` and a free of
        /// a block that was never handed out. Slower.
        case full
    }

    public var numaPolicy: NUMAPolicy = .automatic
    public var nodeBinding: NodeBinding = .strict
    public var scavenging: Scavenging = .background(retainExtraPercent: 10)
    public var releaseMethod: ReleaseMethod = .dontNeed
    public var transparentHugePages: TransparentHugePages = .default
    /// The most address space the heap may reserve for its arenas, in bytes
    /// (nil: no limit beyond the system's). Reaching it makes allocations throw
    /// ``HeapError/outOfMemory(requested:)``.
    public var addressSpaceLimit: Int? = nil
    /// A soft limit on the heap's retained memory (committed and not released),
    /// in bytes, like Go's `GOMEMLIMIT` (nil: none). Above it the scavenger
    /// releases free pages aggressively: before the heap grows, everything over
    /// the limit; in the background, without pacing itself. Live memory may
    /// still exceed it — the limit never makes an allocation fail.
    public var memoryLimit: Int? = nil
    /// The check tier (``Checks``); `.standard` by default.
    public var checks: Checks = .standard
    /// How long the background scavenger remembers a peak: each node's
    /// retained goal follows the most bytes it had in use over the last one
    /// to two windows of this length, not the figure of the moment (Go keeps
    /// the peak of a GC cycle; jemalloc decays over 10 s), so a program that
    /// frees memory and takes it back within the window keeps its pages
    /// instead of faulting them in again. A fall larger than the goal's slack
    /// (retainExtraPercent of the peak) is released at once. `.zero`: the
    /// goal follows the bytes in use at each look; a negative duration counts
    /// as `.zero`. Default 1 s.
    public var retainedPeakWindow: Duration = .seconds(1)

    public init(numaPolicy: NUMAPolicy = .automatic,
                scavenging: Scavenging = .background(retainExtraPercent: 10),
                releaseMethod: ReleaseMethod = .dontNeed,
                transparentHugePages: TransparentHugePages = .default,
                addressSpaceLimit: Int? = nil,
                memoryLimit: Int? = nil,
                nodeBinding: NodeBinding = .strict,
                checks: Checks = .standard,
                retainedPeakWindow: Duration = .seconds(1)) {
        self.checks = checks
        self.retainedPeakWindow = retainedPeakWindow
        self.nodeBinding = nodeBinding
        self.numaPolicy = numaPolicy
        self.scavenging = scavenging
        self.releaseMethod = releaseMethod
        self.transparentHugePages = transparentHugePages
        self.addressSpaceLimit = addressSpaceLimit
        self.memoryLimit = memoryLimit
    }
}
