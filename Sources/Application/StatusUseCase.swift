import EnvSpec
import Foundation
import Reconciler
import StateStore

/// Each service's desired and actual state, health, conditions and drift: `status`, and the
/// dashboard's overview.
public enum StatusUseCase {
    public struct ServiceStatus: Encodable, Sendable {
        public var service: String
        public var desired: Bool
        public var state: String
        public var health: String
        public var container: String?
        public var ports: [String]
        public var revision: Int?
        public var drift: String?
        public var conditions: [Condition]
        /// On the swarm engine: the service's tasks, as the swarm reports them.
        public var tasks: TaskCounts?
    }

    public struct Condition: Encodable, Sendable {
        public var type: String
        public var status: Bool
        public var reason: String
        public var since: String
    }

    public struct Report: Encodable, Sendable {
        public var environment: String
        public var desiredRevision: Int
        public var lastApply: ApplyRecord?
        public var services: [ServiceStatus]
        public var seeds: [SeedRun]
        public var problems: [String]
    }

    public static func run(workspace: Workspace, environment requested: String?) async throws -> Report {
        let db = workspace.store
        let env = try db.resolveEnvironment(requested)
        let stored = try db.revision(environment: env)
        let reconciler = try workspace.reconciler(stored.spec.engine)
        let desired = try reconciler.desiredState(stored)
        let observed = try await reconciler.observe(desired)
        let plan = try reconciler.plan(desired, observed: observed)
        let lastApply = try db.lastApply(environment: env)
        let ledger = try db.seedLedger(environment: env).values.sorted { $0.seed < $1.seed }
        let probed = await probe(observed: observed, desired: desired, engine: reconciler.engine)

        // Ready and Progressing are derived now, by the rule the controller uses; Degraded only
        // the controller knows (it sees crash loops), so it comes from what it recorded.
        let storedConditions = Dictionary(grouping: try db.conditions(environment: env), by: \.service)
        var rows: [ServiceStatus] = []
        let names = Set(stored.spec.services.keys).union(observed.containers.compactMap(\.service)).sorted()
        for name in names {
            let container = observed.containers.first { $0.service == name }
            let drift = ServiceConditions.pendingCause(name, in: plan)
            let health = (probed[name] ?? container?.health) ?? Health.none
            let recorded = storedConditions[name] ?? []
            let degraded = recorded.first { $0.condition == ConditionType.degraded.rawValue }
            var conditions = ServiceConditions.derive(service: name, container: container, health: health, pendingCause: drift,
                                                      crashLoopFailures: 0, held: false, since: "")
                .map { Condition(type: $0.condition, status: $0.status, reason: $0.reason, since: "") }
            conditions[2] = Condition(type: ConditionType.degraded.rawValue, status: degraded?.status ?? false, reason: degraded?.reason ?? "none", since: degraded?.since ?? "")
            for (i, c) in conditions.enumerated() {
                if let known = recorded.first(where: { $0.condition == c.type }), known.status == c.status { conditions[i].since = known.since }
            }
            // Ready cannot be older than the container that is ready.
            if let created = container?.created, created > 0, let since = Timestamp.parse(conditions[0].since), since.timeIntervalSince1970 < created {
                conditions[0].since = Timestamp.format(Date(timeIntervalSince1970: created))
            }
            rows.append(ServiceStatus(service: name, desired: stored.spec.services[name] != nil,
                                      state: container?.state.label ?? "missing", health: (probed[name] ?? container?.health)?.rawValue ?? "-",
                                      container: container.map { String($0.id.prefix(12)) },
                                      ports: container?.ports.map { Self.published($0, remoteHost: observed.remoteHost) } ?? [],
                                      revision: container?.revision, drift: drift, conditions: conditions, tasks: container?.tasks))
        }
        return Report(environment: env, desiredRevision: stored.summary.number, lastApply: lastApply, services: rows, seeds: ledger, problems: plan.problems)
    }

    /// Where a published port is reached: on a remote engine, on that machine (a port bound to
    /// every address is at the engine's host; one bound to loopback only there, said so).
    static func published(_ port: PublishedPort, remoteHost: String?) -> String {
        let mapping = "\(port.hostPort)->\(port.containerPort)/\(port.proto)"
        guard let remoteHost else { return "\(port.hostIP):\(mapping)" }
        let host = remoteHost.contains(":") ? "[\(remoteHost)]" : remoteHost
        switch port.hostIP {
        case "", "0.0.0.0", "::": return "\(host):\(mapping)"
        default: return "\(port.hostIP):\(mapping) on \(host)"
        }
    }

    /// The engine reports "starting" until its first interval passes; devstack's probe knows sooner.
    static func probe(observed: ObservedState, desired: DesiredState, engine: any ContainerEngine) async -> [String: Health] {
        var probed: [String: Health] = [:]
        await withTaskGroup(of: (String, Health?).self) { group in
            for c in observed.containers where c.health == .starting && c.state == .running {
                guard let service = c.service, let check = desired.workloads[service]?.healthcheck else { continue }
                group.addTask {
                    let result = try? await engine.exec(c.id, command: check.command)
                    return (service, result?.exitCode == 0 ? .healthy : nil)
                }
            }
            for await (service, health) in group { if let health { probed[service] = health } }
        }
        return probed
    }
}
