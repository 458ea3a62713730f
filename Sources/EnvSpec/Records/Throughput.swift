/// One apply's measurement of the engine: container operations finished while it was kept at
/// `parallel` operations at once, and the time at least one was in flight (ParallelismTuner).
public struct ThroughputSample: Sendable, Equatable {
    public var parallel: Int
    public var steps: Int
    public var busyMilliseconds: Int
    public init(parallel: Int, steps: Int, busyMilliseconds: Int) {
        self.parallel = parallel
        self.steps = steps
        self.busyMilliseconds = busyMilliseconds
    }
}
