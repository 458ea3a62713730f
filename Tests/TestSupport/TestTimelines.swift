import Reconciler
import Synchronization

/// A timeline that moves only when a test advances it. A test waits until the code under test
/// is asleep (`sleepers(atLeast:)`) before it advances, so no wake-up is raced; a sleep asked for
/// a moment already past returns at once.
public final class TestTimeline: Timeline, Sendable {
    struct Sleeper {
        let id: UInt64
        let deadline: Duration
        let continuation: CheckedContinuation<Void, Error>
    }

    struct State {
        var now: Duration = .zero
        var nextID: UInt64 = 0
        var sleepers: [Sleeper] = []
        var waiters: [(count: Int, continuation: CheckedContinuation<Void, Never>)] = []
    }

    private let state = Mutex(State())

    public init() {}

    public var now: Duration { state.withLock { $0.now } }

    public func sleep(until moment: Duration) async throws {
        let id = state.withLock { s -> UInt64 in
            s.nextID += 1
            return s.nextID
        }
        try await withTaskCancellationHandler {
            try await withCheckedThrowingContinuation { (continuation: CheckedContinuation<Void, Error>) in
                // Registered under the lock that cancellation takes too: a sleep is either seen
                // cancelled here or found by the cancellation handler, never missed by both.
                enum Next { case now, cancelled, sleep([CheckedContinuation<Void, Never>]) }
                let next = state.withLock { s -> Next in
                    if Task.isCancelled { return .cancelled }
                    if moment <= s.now { return .now }
                    s.sleepers.append(Sleeper(id: id, deadline: moment, continuation: continuation))
                    let count = s.sleepers.count
                    let ready = s.waiters.filter { $0.count <= count }.map(\.continuation)
                    s.waiters.removeAll { $0.count <= count }
                    return .sleep(ready)
                }
                switch next {
                case .now: continuation.resume()
                case .cancelled: continuation.resume(throwing: CancellationError())
                case let .sleep(ready): ready.forEach { $0.resume() }
                }
            }
        } onCancel: {
            let found = state.withLock { s -> CheckedContinuation<Void, Error>? in
                guard let index = s.sleepers.firstIndex(where: { $0.id == id }) else { return nil }
                return s.sleepers.remove(at: index).continuation
            }
            found?.resume(throwing: CancellationError())
        }
    }

    /// Moves time on and wakes, in deadline order, every sleep that is due.
    public func advance(by duration: Duration) {
        let due = state.withLock { s -> [Sleeper] in
            s.now += duration
            let due = s.sleepers.filter { $0.deadline <= s.now }.sorted { $0.deadline < $1.deadline }
            s.sleepers.removeAll { $0.deadline <= s.now }
            return due
        }
        due.forEach { $0.continuation.resume() }
    }

    /// Returns once at least `count` sleeps wait on this timeline.
    public func sleepers(atLeast count: Int) async {
        await withCheckedContinuation { (continuation: CheckedContinuation<Void, Never>) in
            let ready = state.withLock { s -> Bool in
                guard s.sleepers.count < count else { return true }
                s.waiters.append((count, continuation))
                return false
            }
            if ready { continuation.resume() }
        }
    }
}

/// A timeline where every sleep returns at once and moves time to its end: a wait with a budget
/// of minutes runs out in microseconds, and says so as it would after minutes.
public final class ImmediateTimeline: Timeline, Sendable {
    private let moment = Mutex(Duration.zero)

    public init() {}

    public var now: Duration { moment.withLock { $0 } }

    public func sleep(until target: Duration) async throws {
        try Task.checkCancellation()
        moment.withLock { $0 = max($0, target) }
    }
}
