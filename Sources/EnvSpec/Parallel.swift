import Dispatch

/// Work over many independent items (10,000 services) spread over the machine's cores, in
/// chunks, keeping the order of the input. Below `minimumChunk` items it runs in place.
public enum Parallel {
    /// For a transform that cannot fail.
    public static func map<T, R>(_ items: [T], minimumChunk: Int = 512, _ transform: (T) -> R) -> [R] {
        // The throwing variant only rethrows what `transform` throws, and this one throws nothing.
        try! map(items, minimumChunk: minimumChunk, throwing: transform)
    }

    public static func map<T, R>(_ items: [T], minimumChunk: Int = 512, throwing transform: (T) throws -> R) throws -> [R] {
        guard items.count >= minimumChunk * 2 else { return try items.map(transform) }
        // Dispatch runs the chunks on as many threads as the machine has cores.
        let chunks = min(16, (items.count + minimumChunk - 1) / minimumChunk)
        let size = (items.count + chunks - 1) / chunks
        var results = [R?](repeating: nil, count: items.count)
        var failures = [Error?](repeating: nil, count: chunks)
        withoutActuallyEscaping(transform) { transform in
            results.withUnsafeMutableBufferPointer { out in
                failures.withUnsafeMutableBufferPointer { errors in
                    // Each chunk writes only its own slots.
                    let out = UnsafeSendable(out), errors = UnsafeSendable(errors), transform = UnsafeSendable(transform), items = UnsafeSendable(items)
                    DispatchQueue.concurrentPerform(iterations: chunks) { chunk in
                        let range = (chunk * size)..<min((chunk + 1) * size, items.value.count)
                        do {
                            for index in range { out.value[index] = try transform.value(items.value[index]) }
                        } catch {
                            errors.value[chunk] = error
                        }
                    }
                }
            }
        }
        if let failure = failures.lazy.compactMap({ $0 }).first { throw failure }
        return results.map { $0! }
    }

    /// A value handed to `concurrentPerform`'s workers, which touch disjoint parts of it.
    struct UnsafeSendable<Value>: @unchecked Sendable {
        let value: Value
        init(_ value: Value) { self.value = value }
    }
}
