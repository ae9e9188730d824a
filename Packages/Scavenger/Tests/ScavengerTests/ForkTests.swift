// fork() and the background worker: the worker holds its mutex between steps,
// so a fork in that window would leave the child a mutex no thread of its own
// can unlock, and the child has no worker thread. prepareForFork() holds the
// mutex across the fork; childAfterFork() gives the child a fresh one and a
// worker it starts lazily.
import Glibc
import Scavenger
import Testing

@Suite struct ForkTests {
    @Test func aChildForkedWhileTheWorkerReleasesGetsAWorkerOfItsOwn() async {
        await #expect(processExitsWith: .success) {
            // A worker kept busy: 1 MiB steps that each burn 0.2 ms, no burst credit.
            let heap = FakeHeap(retained: 1 << 40, inUse: 0, burnNanoseconds: 200_000)
            let configuration = ScavengeWorker.Configuration(burstCreditNanoseconds: 0, quantumBytes: 1 << 20)
            guard let worker = ScavengeWorker.create(target: FakeTarget(heap: heap), configuration: configuration),
                  worker.start() else { exit(10) }
            for round in 0..<20 {
                // As a heap's pthread_atfork handlers do: the heap's own lock
                // (the target's), then the worker's mutex.
                pthread_mutex_lock(&heap.lock)
                worker.prepareForFork()
                let pid = fork()
                if pid == 0 {
                    alarm(10)  // a hang is SIGALRM
                    worker.childAfterFork()
                    pthread_mutex_unlock(&heap.lock)
                    if worker.statistics.isRunning { _exit(2) }  // the parent's thread is not here
                    worker.wake()                                // the mutex is usable
                    worker.startLazily()
                    if !worker.statistics.isRunning { _exit(3) }
                    let before = heap.locked { heap.retained }
                    if !heap.waitUntil(seconds: 5, { heap.retained < before }) { _exit(4) }
                    worker.stop()
                    _exit(0)
                }
                worker.parentAfterFork()
                pthread_mutex_unlock(&heap.lock)
                var status: Int32 = 0
                guard pid > 0, waitpid(pid, &status, 0) == pid, status == 0 else {
                    print("child \(round): status \(status)")
                    exit(1)
                }
            }
            // The parent's worker went on throughout.
            if !worker.statistics.isRunning { exit(11) }
            worker.destroy()
            exit(0)
        }
    }
}
