// NUMAHeap — composes the local packages into Heap and CollectedHeap.
