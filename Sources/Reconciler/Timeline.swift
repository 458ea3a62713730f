/// Time as the reconciler and the controller see it: a monotonic offset from an origin, and
/// sleeping until a later offset. Everything that waits (health probes, back-off, heartbeats,
/// resyncs) waits on a timeline, so a test drives it with a test clock instead of real time.
public protocol Timeline: Sendable {
    /// Time elapsed since this timeline's origin.
    var now: Duration { get }
    func sleep(until moment: Duration) async throws
}

extension Timeline {
    public func sleep(for duration: Duration) async throws {
        try await sleep(until: now + duration)
    }
}

/// A timeline over any clock measured in `Duration`: `ContinuousClock` in the program, a
/// `TestClock` or `ImmediateClock` (swift-clocks) in tests.
public struct ClockTimeline<C: Clock>: Timeline where C.Duration == Duration {
    public let clock: C
    public let origin: C.Instant

    public init(_ clock: C) {
        self.clock = clock
        self.origin = clock.now
    }

    public var now: Duration { origin.duration(to: clock.now) }

    public func sleep(until moment: Duration) async throws {
        try await clock.sleep(until: origin.advanced(by: moment), tolerance: nil)
    }
}

extension Timeline where Self == ClockTimeline<ContinuousClock> {
    /// Real time.
    public static var system: ClockTimeline<ContinuousClock> { ClockTimeline(ContinuousClock()) }
}

extension Duration {
    /// Whole milliseconds, for events and progress lines.
    public var milliseconds: Int {
        let (seconds, attoseconds) = components
        return Int(seconds) * 1000 + Int(attoseconds / 1_000_000_000_000_000)
    }
}
