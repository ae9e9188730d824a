import SpanCore
import Synchronization

extension CentralList {
    /// The whole protocol of a free by a thread that does not own the span:
    /// everything the notice needs (the span's class, node and
    /// `Span.incarnation`) is read *before* the free is published — once the
    /// bit is set, another thread may sweep it in, find the span empty and
    /// retire it — then the bit is set, and an unowned span whose list must
    /// react (``needsNotice(_:pending:)``) is handed to its central list, which
    /// rechecks under its lock. Returns the refusal when the object was not
    /// allocated or already freed.
    @inlinable
    public static func freeRemote<Directory: CentralDirectory>(_ span: SpanRef, index: Int,
                                                               directory: Directory) -> FreeRefusal? {
        let incarnation = span.pointee.incarnation.load(ordering: .relaxed)
        let spanClass = span.pointee.spanClass
        let node = span.pointee.node
        switch span.pointee.freeRemote(index) {
        case .failure(let refusal):
            return refusal
        case .success(let pending):
            // Only the span's atomics are read from here on.
            if span.pointee.owner.load(ordering: .sequentiallyConsistent) == 0
                && needsNotice(span, pending: pending) {
                directory.central(spanClass, node: node).pointee
                    .remoteFreeNoticed(span, incarnation: incarnation, source: directory.source(node: node))
            }
            return nil
        }
    }
}
