/// Decides when a crashing service may be started again: capped exponential back-off, reset
/// once the service has stayed up. Pure bookkeeping; times are moments on the controller's
/// timeline.
public struct CrashLoopTracker: Sendable {
    public var base: Duration
    public var cap: Duration
    /// A start that is followed by another within this long counts as a crash.
    public var stableAfter: Duration

    struct Entry {
        var failures = 0
        var lastStart: Duration?
        var holdUntil: Duration?
        /// When the engine said the container exited, if it has since the last start.
        var lastExit: Duration?
    }
    var entries: [String: Entry] = [:]

    public init(base: Duration = .seconds(1), cap: Duration = .seconds(60), stableAfter: Duration = .seconds(10)) {
        self.base = base
        self.cap = cap
        self.stableAfter = stableAfter
    }

    public enum Admission: Sendable, Equatable {
        case go
        /// Hold the start until `until`; `isNew` is true the first time this hold is reported.
        case hold(until: Duration, failures: Int, delay: Duration, isNew: Bool)
    }

    public mutating func admit(_ service: String, now: Duration) -> Admission {
        var entry = entries[service] ?? Entry()
        defer { entries[service] = entry }
        if let hold = entry.holdUntil {
            if now >= hold {
                entry.holdUntil = nil
                entry.lastStart = now
                return .go
            }
            return .hold(until: hold, failures: entry.failures, delay: delay(entry.failures), isNew: false)
        }
        // How long it stayed up: until the engine said it exited, when it did; a pass can come
        // long after the exit on a loaded machine, and that wait is not stability.
        let stoppedAt = entry.lastExit ?? now
        entry.lastExit = nil
        if let last = entry.lastStart, stoppedAt - last < stableAfter {
            entry.failures += 1
            let wait = delay(entry.failures)
            entry.holdUntil = now + wait
            return .hold(until: now + wait, failures: entry.failures, delay: wait, isNew: true)
        }
        entry.failures = 0
        entry.lastStart = now
        return .go
    }

    /// The start admitted earlier has finished now. Stability counts from here: on a loaded
    /// machine a start can take longer than `stableAfter`, and a container that dies right after
    /// such a slow start is still crashing.
    public mutating func started(_ service: String, at now: Duration) {
        guard entries[service] != nil else { return }
        entries[service]!.lastStart = max(entries[service]!.lastStart ?? now, now)
    }

    /// The engine reported that the service's container exited (`die`, `oom`).
    public mutating func exited(_ service: String, at now: Duration) {
        guard entries[service] != nil else { return }
        entries[service]!.lastExit = now
    }

    /// Someone stopped, killed or removed the service's container through the engine's API: that
    /// is not a crash, so the next start goes at once and the count starts again.
    public mutating func forgive(_ service: String) {
        entries[service] = nil
    }

    /// The service is held back right now.
    public func isHeld(_ service: String, now: Duration) -> Bool {
        entries[service]?.holdUntil.map { now < $0 } ?? false
    }

    public func failures(_ service: String) -> Int { entries[service]?.failures ?? 0 }

    func delay(_ failures: Int) -> Duration {
        var d = base
        for _ in 1..<max(1, failures) where d < cap { d = d * 2 }
        return min(d, cap)
    }
}

extension Plan {
    /// The plan without waits that no other step depends on. The controller uses it: a pass
    /// that heals one service does not sit waiting for its health while another is down; the
    /// engine's health events bring the controller back if the service turns unhealthy.
    public func withoutTrailingWaits() -> Plan {
        let needed = Set(steps.flatMap(\.dependsOn))
        let kept = steps.filter { !$0.action.isWait || needed.contains($0.id) }
        guard kept.count != steps.count else { return self }
        let newID = Dictionary(uniqueKeysWithValues: kept.enumerated().map { ($1.id, $0) })
        return Plan(environment: environment, steps: kept.map { step in
            Plan.Step(id: newID[step.id]!, action: step.action, service: step.service, cause: step.cause, dependsOn: step.dependsOn.compactMap { newID[$0] })
        }, problems: problems)
    }

    /// The plan without the steps of `services` and without everything that depends on them.
    public func without(services held: Set<String>) -> Plan {
        guard !held.isEmpty else { return self }
        var dropped = Set(steps.filter { $0.service.map(held.contains) ?? false }.map(\.id))
        var changed = true
        while changed {
            changed = false
            for step in steps where !dropped.contains(step.id) && step.dependsOn.contains(where: dropped.contains) {
                dropped.insert(step.id)
                changed = true
            }
        }
        let kept = steps.filter { !dropped.contains($0.id) }
        let newID = Dictionary(uniqueKeysWithValues: kept.enumerated().map { ($1.id, $0) })
        let renumbered = kept.map { step in
            Plan.Step(id: newID[step.id]!, action: step.action, service: step.service, cause: step.cause, dependsOn: step.dependsOn.compactMap { newID[$0] })
        }
        return Plan(environment: environment, steps: renumbered, problems: problems)
    }
}
