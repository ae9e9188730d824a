import NUMAHeapAllocator
import SwiftWorkload

workloadMain(label: "linked")
// The heap behind this program's malloc saw the workload's allocations.
print("linked: Heap.shared served \(Heap.shared.statistics.mallocs) allocations")
