import ArgumentParser
import EnvSpec
import Foundation
import Reconciler
import StateStore

extension Devstack {
    struct Status: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Show each service's desired and actual state, health and drift.")

        @OptionGroup var store: StoreOptions
        @OptionGroup var environment: EnvironmentOption
        @OptionGroup var output: OutputOptions

        struct ServiceStatus: Encodable {
            var service: String
            var desired: Bool
            var state: String
            var health: String
            var container: String?
            var ports: [String]
            var revision: Int?
            var drift: String?
            var conditions: [ConditionJSON]
        }

        struct ConditionJSON: Encodable {
            var type: String
            var status: Bool
            var reason: String
            var since: String
        }

        struct Report: Encodable {
            var environment: String
            var desiredRevision: Int
            var lastApply: ApplyRecord?
            var services: [ServiceStatus]
            var seeds: [SeedRun]
            var problems: [String]
        }

        /// The condition that matters most: Degraded, else Progressing, else Ready; with its age.
        static func headline(_ conditions: [ConditionJSON]) -> String {
            let pick = conditions.first { $0.type == "Degraded" && $0.status } ?? conditions.first { $0.type == "Progressing" && $0.status }
                ?? conditions.first { $0.type == "Ready" }!
            let label = pick.type == "Ready" && !pick.status ? "NotReady" : pick.type
            let age = Timestamp.parse(pick.since).map { " \(Self.age(Date().timeIntervalSince($0)))" } ?? ""
            return pick.type == "Degraded" ? "\(label)\(age): \(pick.reason)" : "\(label)\(age)"
        }

        static func age(_ seconds: TimeInterval) -> String {
            let s = Int(max(0, seconds))
            return s < 60 ? "\(s)s" : s < 3600 ? "\(s / 60)m" : "\(s / 3600)h"
        }

        func run() async throws {
            let db = try store.openForReading()
            let env = try db.resolveEnvironment(environment.env)
            let stored = try db.revision(environment: env)
            let reconciler = try EngineFactory.reconciler(store: db)
            let desired = try reconciler.desiredState(stored)
            let observed = try await reconciler.observe(desired)
            let plan = try reconciler.plan(desired, observed: observed)
            let lastApply = try db.lastApply(environment: env)
            let ledger = try db.seedLedger(environment: env).values.sorted { $0.seed < $1.seed }

            // The engine reports "starting" until its first interval passes; devstack's probe knows sooner.
            var probed: [String: Health] = [:]
            await withTaskGroup(of: (String, Health?).self) { group in
                for c in observed.containers where c.health == .starting && c.state == .running {
                    guard let service = c.service, let check = desired.workloads[service]?.healthcheck else { continue }
                    group.addTask {
                        let result = try? await reconciler.engine.exec(c.id, command: check.command)
                        return (service, result?.exitCode == 0 ? .healthy : nil)
                    }
                }
                for await (service, health) in group { if let health { probed[service] = health } }
            }
            // Conditions: the controller's when it runs (it knows about crash loops), else derived here.
            let storedConditions = Dictionary(grouping: try db.conditions(environment: env), by: \.service)
            var rows: [ServiceStatus] = []
            let names = Set(stored.spec.services.keys).union(observed.containers.compactMap(\.service)).sorted()
            for name in names {
                let container = observed.containers.first { $0.service == name }
                let drift = plan.steps.first { $0.service == name && !$0.action.isWait }?.cause
                let health = (probed[name] ?? container?.health) ?? Health.none
                let ready = container?.state == .running && (health == .healthy || health == .none)
                var conditions = [
                    ConditionJSON(type: "Ready", status: ready, reason: ready ? "running" : (container?.state.label ?? "no container"), since: ""),
                    ConditionJSON(type: "Progressing", status: drift != nil, reason: drift ?? "up to date", since: ""),
                ]
                let degraded = storedConditions[name]?.first { $0.condition == "Degraded" }
                conditions.append(ConditionJSON(type: "Degraded", status: degraded?.status ?? false, reason: degraded?.reason ?? "none", since: degraded?.since ?? ""))
                for (i, c) in conditions.enumerated() {
                    if let known = storedConditions[name]?.first(where: { $0.condition == c.type }), known.status == c.status { conditions[i].since = known.since }
                }
                // Ready cannot be older than the container that is ready.
                if let created = container?.created, created > 0, let since = Timestamp.parse(conditions[0].since),
                   since.timeIntervalSince1970 < created {
                    conditions[0].since = Timestamp.format(Date(timeIntervalSince1970: created))
                }
                rows.append(ServiceStatus(service: name, desired: stored.spec.services[name] != nil,
                                          state: container?.state.label ?? "missing", health: (probed[name] ?? container?.health)?.rawValue ?? "-",
                                          container: container.map { String($0.id.prefix(12)) },
                                          ports: container?.ports.map { "\($0.hostIP):\($0.hostPort)->\($0.containerPort)/\($0.proto)" } ?? [],
                                          revision: container?.revision, drift: drift, conditions: conditions))
            }
            if output.json {
                return try JSONOutput.print(Report(environment: env, desiredRevision: stored.summary.number, lastApply: lastApply,
                                                   services: rows, seeds: ledger, problems: plan.problems))
            }
            let applied = lastApply.map { "last apply: revision \($0.revision), \($0.outcome)" } ?? "never applied"
            print("\(Terminal.bold(env))  desired revision \(stored.summary.number)  \(applied)")
            print(Terminal.table(["SERVICE", "STATE", "HEALTH", "CONTAINER", "PORTS", "REV", "CONDITION", "DRIFT"], rows.map { r in
                [r.service + (r.desired ? "" : " (orphan)"), r.state, r.health, r.container ?? "-", r.ports.isEmpty ? "-" : r.ports.joined(separator: ","),
                 r.revision.map(String.init) ?? "-", Self.headline(r.conditions), r.drift ?? "-"]
            }))
            if !ledger.isEmpty {
                print("")
                print(Terminal.table(["SEED", "STATUS", "REV", "FINISHED (UTC)", "MS", "CHECKSUM"], ledger.map { s in
                    [s.seed, s.status, s.revision.map(String.init) ?? "-", s.finishedAt.map { String($0.prefix(19)).replacingOccurrences(of: "T", with: " ") } ?? "-",
                     s.durationMs.map(String.init) ?? "-", String(s.checksum.prefix(12))]
                }))
            }
            for problem in plan.problems { print(Terminal.red("! \(problem)")) }
        }
    }

    struct Down: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Remove the environment's containers and network (volumes only with --volumes).")

        @OptionGroup var store: StoreOptions
        @OptionGroup var environment: EnvironmentOption
        @Flag(name: .long, help: "Also remove the environment's named volumes and their data.") var volumes = false
        @Option(name: .long, help: "How many engine operations run at once.") var parallel: Int = 8

        mutating func validate() throws { try NumericOption.check(parallel, "--parallel", 1...256) }

        func run() async throws {
            let db = try store.openExisting()
            let env = try db.resolveEnvironment(environment.env)
            let reconciler = try EngineFactory.reconciler(store: db)
            let executor = Executor.cli(engine: reconciler.engine, store: db, timeoutSeconds: nil, parallel: parallel)
            // Under the environment's lease: a controller would otherwise bring everything back.
            let outcome = try await ExclusiveLease.run(db, environment: env, holder: "down") {
                try await reconciler.down(environment: env, removeVolumes: volumes, executor: executor)
            }
            let failures = outcome.report.failures
            guard failures.isEmpty else {
                for f in failures { Terminal.error(f.message) }
                throw UserError("\(env) was not fully removed (\(failures.count) failed)")
            }
            print(outcome.plan.isEmpty ? "\(env): nothing to remove" : "\(env) is down: removed \(outcome.plan.steps.count) objects")
        }
    }
}
