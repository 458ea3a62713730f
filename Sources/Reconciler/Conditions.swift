import EnvSpec

/// The three conditions every service reports, computed in one place for `status`, the
/// controller and the dashboard.
public enum ConditionType: String, Sendable, Codable, CaseIterable {
    /// Running, and healthy when it has a health check.
    case ready = "Ready"
    /// A step is pending for it.
    case progressing = "Progressing"
    /// It keeps crashing.
    case degraded = "Degraded"
}

public enum ServiceConditions {
    /// Ready: the container runs, and passes its health check when it has one (a probe's
    /// answer counts as much as the engine's). `starting` is not ready.
    public static func isReady(_ container: ObservedContainer?, health: Health) -> Bool {
        container?.state == .running && (health == .healthy || health == .none)
    }

    /// The conditions of one service. `health` is the best known: the engine's, or a probe's.
    public static func derive(service: String, container: ObservedContainer?, health: Health, pendingCause: String?,
                              crashLoopFailures: Int, held: Bool, since: String = Timestamp.now()) -> [ServiceCondition] {
        let ready = isReady(container, health: health)
        return [
            ServiceCondition(service: service, condition: ConditionType.ready.rawValue, status: ready,
                             reason: ready ? "running" : (container?.state.label ?? "no container"), since: since),
            ServiceCondition(service: service, condition: ConditionType.progressing.rawValue, status: pendingCause != nil,
                             reason: pendingCause ?? "up to date", since: since),
            ServiceCondition(service: service, condition: ConditionType.degraded.rawValue, status: held || crashLoopFailures > 0,
                             reason: crashLoopFailures > 0 ? "crash loop: \(crashLoopFailures) restarts in a row" : "none", since: since),
        ]
    }

    /// The step that would change a service now, if any: its cause is the Progressing reason.
    public static func pendingCause(_ service: String, in plan: Plan) -> String? {
        plan.steps.first { $0.service == service && !$0.action.isWait }?.cause
    }
}
