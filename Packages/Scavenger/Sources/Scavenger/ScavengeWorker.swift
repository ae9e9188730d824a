// ScavengeWorker: the background scavenger — one pthread per heap, Go 1.14's
// bgscavenge. It is started lazily (the heap starts it on its first growth),
// releases free pages one quantum at a time from the highest addresses down,
// sleeps after each step so that it uses about 1% of one CPU (ScavengePacer,
// from its own thread CPU clock) — except while it has burst credit, saved up
// at 1% of wall time to at most 90 ms of CPU, which it spends without sleeping
// — and idles — polling every `idlePoll`, or woken by wake() — while the heap
// is at its goal. Above the memory limit it releases without sleeping. stop()
// wakes it and joins it.
//
// Everything lives in one page the worker maps itself: the mutex and condition
// variable, the pacer, the counters and the target (a small value stored
// inline). The loop allocates no Swift object.
//
// Locks: `mutex` protects every field of _WorkerState below. The worker never
// holds it while calling the target (which takes the heap's locks), and the
// heap may call wake()/start() holding its own locks: heap locks → mutex, never
// the reverse. Around fork() the heap takes it last, after its own locks
// (prepareForFork), so the child never inherits it held by a thread it lacks.
//
// fork: the child has no worker thread. childAfterFork() makes a fresh mutex
// and condition variable (the parent's thread may have been waiting on the
// old one) and forgets the thread, so the child's next growth starts a worker
// of its own (startLazily), with the same pacer and counters.
import Glibc
import Platform

/// The state of one worker, in its own mapping (see the file comment).
@usableFromInline
struct _WorkerState {
    /// The thread, valid while `running` (mutex).
    var thread = pthread_t()
    /// A thread exists and has not been joined (mutex).
    var running = false
    /// start() has succeeded once (mutex): startLazily() does nothing after.
    var startedOnce = false
    /// stop() asked the thread to exit (mutex).
    var stopping = false
    /// wake() was called since the worker last went idle (mutex).
    var wake = false
    /// The worker is at the goal (between cycles) (mutex).
    var idle = true
    /// Written by the worker only (mutex for readers).
    var pacer: ScavengePacer
    let goal: ScavengeGoal
    let quantumBytes: Int
    let idlePollNanoseconds: Int
    let trimIntervalNanoseconds: Int
    // Counters: written by the worker under `mutex`, read by statistics.
    var cpuNanoseconds = 0
    var sleptNanoseconds = 0
    var cycles = 0
    var steps = 0
    var unpacedSteps = 0
    var burstSteps = 0
    var longestActivity = 0
    var releasedBytes = 0
    let target: any ScavengeTarget
}

/// A background scavenger thread over a ``ScavengeTarget``.
///
/// A `ScavengeWorker` is a pointer to memory the worker maps: copies name the
/// same worker; ``destroy()`` ends it for all of them.
public struct ScavengeWorker: @unchecked Sendable {
    /// How a worker paces itself.
    public struct Configuration: Sendable {
        /// The goal the worker keeps the target at.
        public var goal: ScavengeGoal
        /// The fraction of one CPU to use (Go: 1%), f in ScavengePacer's bound.
        public var targetFraction: Double
        /// The most CPU time the worker saves up, at `targetFraction` of wall
        /// time, to spend in one burst without sleeping (C in ScavengePacer's
        /// bound: over any window W it uses at most C + f·W, plus one step).
        /// 0: no bursts. The default, 90 ms (9 s of 1%), is the most the
        /// issue's pacing rule allows — at most 2% of one CPU over any 10 s:
        /// C ≤ 10 s × (2% − 1%) − s, with s (one step) taken at Go's maxCrit,
        /// 10 ms, so the rule holds by construction for any step up to 10 ms
        /// (an 8 MiB release takes ~1 ms). Its other rule, RSS down within 5 s
        /// of a 1 GiB free, needs C ≥ cost − 5 s × 1%: releasing ~920 MiB of
        /// 4 KiB pages costs 80–130 ms of CPU here, more when the pages were
        /// faulted in scattered order — so C is set as high as the first allows.
        public var burstCreditNanoseconds: Int
        /// Bytes released per step (Go 1.14: one physical page). NUMAHeap uses
        /// four huge pages (8 MiB): a few PMD zaps where huge pages back the
        /// heap, ~0.8 ms of madvise under the node lock where 4 KiB pages do,
        /// and few enough steps that the fixed cost of a step (reading the
        /// figures, the walk) does not dominate the 1% budget.
        public var quantumBytes: Int
        /// How often an idle worker re-reads the figures (the heap has no GC
        /// cycle to wake it when frees lower the goal).
        public var idlePollNanoseconds: Int
        /// How often the worker asks its target to take back what idle
        /// threads hold (``ScavengeTarget/trimIdle()``), at the first look at
        /// the figures after each interval; its CPU is paced like a release's.
        public var trimIntervalNanoseconds: Int
        /// CPU granted per MiB the heap's in-use bytes fell (``ScavengePacer``'s
        /// shrink credit, k), and the most such credit held at once. The
        /// default, 250 µs per MiB, covers what releasing a MiB of 4 KiB pages
        /// costs here (80–145 ms per GiB in order, up to ~180 ms when the
        /// pages were faulted scattered by several threads); 0 turns it off.
        public var shrinkCreditNanosecondsPerMiB: Int
        public var shrinkCreditCapNanoseconds: Int

        public init(goal: ScavengeGoal = ScavengeGoal(), targetFraction: Double = 0.01,
                    burstCreditNanoseconds: Int = 90_000_000,
                    quantumBytes: Int = 2 << 20, idlePollNanoseconds: Int = 50_000_000,
                    trimIntervalNanoseconds: Int = 1_000_000_000,
                    shrinkCreditNanosecondsPerMiB: Int = 250_000, shrinkCreditCapNanoseconds: Int = 1_000_000_000) {
            self.shrinkCreditNanosecondsPerMiB = max(shrinkCreditNanosecondsPerMiB, 0)
            self.shrinkCreditCapNanoseconds = max(shrinkCreditCapNanoseconds, 0)
            self.goal = goal
            self.targetFraction = targetFraction
            self.burstCreditNanoseconds = max(burstCreditNanoseconds, 0)
            self.quantumBytes = max(quantumBytes, 1)
            self.idlePollNanoseconds = max(idlePollNanoseconds, 1_000_000)
            self.trimIntervalNanoseconds = max(trimIntervalNanoseconds, 1_000_000)
        }
    }

    /// What a worker has done, over its whole life.
    public struct Statistics: Sendable, Equatable {
        /// Whether its thread is running now.
        public var isRunning: Bool
        /// CPU time of the worker's thread (its own `CLOCK_THREAD_CPUTIME_ID`).
        public var cpuNanoseconds: Int
        /// Time spent in paced sleeps.
        public var sleptNanoseconds: Int
        /// Cycles: times the worker left the goal and released memory.
        public var cycles: Int
        /// Steps that released memory; how many of them skipped the pacing
        /// sleep because the memory limit was exceeded, and how many because
        /// the worker had burst credit left.
        public var steps: Int
        public var unpacedSteps: Int
        public var burstSteps: Int
        /// Bytes released by the worker.
        public var releasedBytes: Int
        /// The pacer's moving average of the CPU fraction used while working.
        public var averageFraction: Double
        /// The most CPU one activity of the worker has used (a look at the
        /// figures and at most one step, with the loop's own overhead): the
        /// `s` in ScavengePacer's bound.
        public var longestActivityNanoseconds: Int
        /// The pacer's burst credit as of the worker's last step, in CPU ns
        /// (negative: a debt being repaid).
        public var creditNanoseconds: Int
    }

    @usableFromInline let mutex: UnsafeMutablePointer<pthread_mutex_t>
    @usableFromInline let cond: UnsafeMutablePointer<pthread_cond_t>
    @usableFromInline let state: UnsafeMutablePointer<_WorkerState>

    static var mappingBytes: Int { max(SystemMemory.physicalPageSize, 4096) }

    /// A normal mutex and a condition variable on the monotonic clock (the
    /// waits' deadlines), at creation and again in a forked child.
    static func initializeSynchronisation(_ mutex: UnsafeMutablePointer<pthread_mutex_t>,
                                          _ cond: UnsafeMutablePointer<pthread_cond_t>) {
        pthread_mutex_init(mutex, nil)
        var attr = pthread_condattr_t()
        pthread_condattr_init(&attr)
        pthread_condattr_setclock(&attr, CLOCK_MONOTONIC)
        pthread_cond_init(cond, &attr)
        pthread_condattr_destroy(&attr)
    }

    /// Maps a worker for `target`; its thread starts at ``start()``. Nil when
    /// memory cannot be mapped.
    public static func create(target: some ScavengeTarget, configuration: Configuration) -> ScavengeWorker? {
        guard case .success(let base) = SystemMemory.mapAnonymous(bytes: mappingBytes) else { return nil }
        let mutex = base.bindMemory(to: pthread_mutex_t.self, capacity: 1)
        let cond = (base + 64).bindMemory(to: pthread_cond_t.self, capacity: 1)
        ScavengeWorker.initializeSynchronisation(mutex, cond)
        let state = (base + 128).bindMemory(to: _WorkerState.self, capacity: 1)
        state.initialize(to: _WorkerState(
            pacer: ScavengePacer(targetFraction: configuration.targetFraction,
                                 creditCapNanoseconds: configuration.burstCreditNanoseconds,
                                 shrinkNanosecondsPerByte: Double(configuration.shrinkCreditNanosecondsPerMiB) / Double(1 << 20),
                                 shrinkCapNanoseconds: configuration.shrinkCreditCapNanoseconds),
            goal: configuration.goal, quantumBytes: configuration.quantumBytes,
            idlePollNanoseconds: configuration.idlePollNanoseconds,
            trimIntervalNanoseconds: configuration.trimIntervalNanoseconds, target: target))
        return ScavengeWorker(mutex: mutex, cond: cond, state: state)
    }

    /// Starts the thread if it is not running. Returns whether it runs.
    @discardableResult
    public func start() -> Bool {
        pthread_mutex_lock(mutex)
        defer { pthread_mutex_unlock(mutex) }
        if state.pointee.running { return !state.pointee.stopping }
        var thread = pthread_t()
        let rc = pthread_create(&thread, nil, { raw in
            ScavengeWorker.threadMain(raw!)
            return nil
        }, UnsafeMutableRawPointer(mutex))
        if rc != 0 { return false }
        state.pointee.thread = thread
        state.pointee.running = true
        state.pointee.startedOnce = true
        state.pointee.idle = true
        return true
    }

    /// Starts the thread the first time only (a heap's first growth); after a
    /// ``stop()`` it stays stopped until ``start()``.
    public func startLazily() {
        pthread_mutex_lock(mutex)
        let once = state.pointee.startedOnce
        pthread_mutex_unlock(mutex)
        if !once { start() }
    }

    /// Makes an idle worker re-read the figures now (it does not shorten a
    /// pacing sleep).
    public func wake() {
        pthread_mutex_lock(mutex)
        state.pointee.wake = true
        pthread_cond_signal(cond)
        pthread_mutex_unlock(mutex)
    }

    /// Stops the thread and waits for it; ``start()`` starts it again.
    public func stop() {
        pthread_mutex_lock(mutex)
        state.pointee.startedOnce = true   // a stopped worker is not started lazily
        guard state.pointee.running, !state.pointee.stopping else {
            pthread_mutex_unlock(mutex)
            return
        }
        state.pointee.stopping = true
        let thread = state.pointee.thread
        pthread_cond_broadcast(cond)
        pthread_mutex_unlock(mutex)
        pthread_join(thread, nil)
        pthread_mutex_lock(mutex)
        state.pointee.running = false
        state.pointee.stopping = false
        pthread_mutex_unlock(mutex)
    }

    // MARK: fork

    /// For `pthread_atfork`'s prepare handler, after every heap lock: holds
    /// the mutex across `fork()`, so that neither process inherits it held by
    /// the worker (which holds it between steps). Follow with
    /// ``parentAfterFork()`` or ``childAfterFork()``.
    public func prepareForFork() { pthread_mutex_lock(mutex) }

    /// Releases what ``prepareForFork()`` took (the parent, whose worker goes on).
    public func parentAfterFork() { pthread_mutex_unlock(mutex) }

    /// In the child: the worker's thread does not exist here. Re-creates the
    /// mutex and condition variable (never unlocked by a thread that is gone,
    /// never waited on by one), forgets the thread and lets the next
    /// ``startLazily()`` — the child's next growth — start a worker of its own.
    public func childAfterFork() {
        ScavengeWorker.initializeSynchronisation(mutex, cond)
        // A worker that ran in the parent starts again lazily; one the parent
        // stopped for good (stop()) stays stopped; one never started, too.
        if state.pointee.running && !state.pointee.stopping { state.pointee.startedOnce = false }
        state.pointee.thread = pthread_t()
        state.pointee.running = false
        state.pointee.stopping = false
        state.pointee.wake = false
        state.pointee.idle = true
    }

    /// Stops the thread and unmaps the worker.
    public func destroy() {
        stop()
        state.deinitialize(count: 1)
        pthread_cond_destroy(cond)
        pthread_mutex_destroy(mutex)
        _ = SystemMemory.unmap(UnsafeMutableRawPointer(mutex), bytes: ScavengeWorker.mappingBytes)
    }

    /// A snapshot of the counters.
    public var statistics: Statistics {
        pthread_mutex_lock(mutex)
        defer { pthread_mutex_unlock(mutex) }
        let s = state.pointee
        return Statistics(isRunning: s.running && !s.stopping, cpuNanoseconds: s.cpuNanoseconds,
                          sleptNanoseconds: s.sleptNanoseconds, cycles: s.cycles, steps: s.steps,
                          unpacedSteps: s.unpacedSteps, burstSteps: s.burstSteps,
                          releasedBytes: s.releasedBytes, averageFraction: s.pacer.averageFraction,
                          longestActivityNanoseconds: s.longestActivity,
                          creditNanoseconds: Int(s.pacer.creditNanoseconds))
    }

    // MARK: The thread

    static func threadMain(_ raw: UnsafeMutableRawPointer) {
        // Named, so that tools and tests can find it (/proc/self/task/*/comm).
        ThreadName.setCurrent("numaheap-scav")
        let w = ScavengeWorker(mutex: raw.assumingMemoryBound(to: pthread_mutex_t.self),
                               cond: (raw + 64).assumingMemoryBound(to: pthread_cond_t.self),
                               state: (raw + 128).assumingMemoryBound(to: _WorkerState.self))
        w.loop(w.state.pointee.target)
    }

    /// The loop, specialised for the target's type. Mutex held at the top of
    /// each iteration.
    ///
    /// One activity per iteration: read the figures, release at most one
    /// quantum (and, on reaching the goal, end the cycle), then charge the CPU
    /// it used to the pacer. After a release the worker goes straight on while
    /// it has burst credit, else sleeps as the pacer says (Go's sleep, at least
    /// until the debt is repaid); at the goal it first repays any debt, then
    /// idles. Every activity therefore begins with credit ≥ 0 — the condition
    /// of ScavengePacer's bound (over a window W: ≤ C + f·W + one activity).
    func loop<T: ScavengeTarget>(_ target: T) {
        let goal = state.pointee.goal
        let quantum = state.pointee.quantumBytes
        let poll = state.pointee.idlePollNanoseconds
        let trimInterval = state.pointee.trimIntervalNanoseconds
        var lastTrim = ThreadClock.monotonicNanoseconds
        let threadStart = ThreadClock.cpuNanoseconds
        var last = threadStart
        var idle = true   // mirrors state.idle, which only this thread writes while it runs
        var shrinkWindow = ShrinkWindow()  // which falls of the in-use figure earn shrink credit
        pthread_mutex_lock(mutex)
        let cpuBase = state.pointee.cpuNanoseconds
        while !state.pointee.stopping {
            pthread_mutex_unlock(mutex)
            if ThreadClock.monotonicNanoseconds - lastTrim >= trimInterval {
                target.trimIdle()   // part of this activity: its CPU is charged below
                lastTrim = ThreadClock.monotonicNanoseconds
            }
            let figures = target.figures
            let shrink = shrinkWindow.observe(inUse: figures.inUseBytes, lowestSinceLastLook: target.lowestInUseBytesSinceLastLook(),
                                              now: ThreadClock.monotonicNanoseconds)
            if shrink > 0 { target.inUseShrank(bytes: shrink) }
            let want = target.bytesToRelease(toward: goal, figures: figures)
            let released = want > 0 ? target.scavenge(bytes: min(want, quantum)) : 0
            if released == 0 && !idle {
                idle = true
                target.scavengeCycleEnded()   // part of this activity: before the clocks
            }
            let now = ThreadClock.cpuNanoseconds
            let wall = ThreadClock.monotonicNanoseconds
            let work = now - last
            last = now
            pthread_mutex_lock(mutex)
            state.pointee.pacer.grant(shrinkBytes: shrink)
            state.pointee.cpuNanoseconds = cpuBase + (now - threadStart)
            state.pointee.longestActivity = max(state.pointee.longestActivity, work)
            if released > 0 {
                if idle {
                    idle = false
                    state.pointee.cycles += 1
                }
                state.pointee.idle = false
                state.pointee.steps += 1
                state.pointee.releasedBytes += released
                if goal.isOverLimit(figures) {
                    state.pointee.unpacedSteps += 1   // over the memory limit: no sleep
                    state.pointee.pacer.chargeUnpaced(work: work, now: wall)
                    continue
                }
                let ns = state.pointee.pacer.pause(afterWork: work, now: wall)
                if ns == 0 {
                    state.pointee.burstSteps += 1     // burst credit left: no sleep
                    continue
                }
                let slept = sleepLocked(ns, untilWoken: false)
                state.pointee.sleptNanoseconds += slept
                state.pointee.pacer.record(work: work, slept: slept)
            } else {
                state.pointee.idle = true
                state.pointee.pacer.charge(work: work, now: wall)
                state.pointee.pacer.dropShrinkSurplus()
                let repay = state.pointee.pacer.repayNanoseconds
                if repay > 0 { state.pointee.sleptNanoseconds += sleepLocked(repay, untilWoken: false) }
                if !state.pointee.wake { _ = sleepLocked(poll, untilWoken: true) }
                state.pointee.wake = false
            }
        }
        state.pointee.cpuNanoseconds = cpuBase + (ThreadClock.cpuNanoseconds - threadStart)
        pthread_mutex_unlock(mutex)
    }

    /// Waits on the condition variable (mutex held) for `ns` nanoseconds, or
    /// until stop() (or wake(), when `untilWoken`). Returns the time waited.
    func sleepLocked(_ ns: Int, untilWoken: Bool) -> Int {
        let begin = ThreadClock.monotonicNanoseconds
        let deadline = begin + ns
        var ts = timespec(tv_sec: deadline / 1_000_000_000, tv_nsec: deadline % 1_000_000_000)
        while !state.pointee.stopping && !(untilWoken && state.pointee.wake) {
            if pthread_cond_timedwait(cond, mutex, &ts) == ETIMEDOUT { break }
        }
        return ThreadClock.monotonicNanoseconds - begin
    }
}
