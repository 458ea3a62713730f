import EnvSpec
import Foundation
import Reconciler

/// Runs seeds against a converged environment and keeps the ledger.
public struct SeedRunner: Sendable {
    public let reconciler: Reconciler
    public let store: any SeedLedgerRecording & SnapshotCatalog
    var engine: any ContainerEngine { reconciler.engine }
    var host: any HostAccess { reconciler.host }

    public init(_ reconciler: Reconciler, store: any SeedLedgerRecording & SnapshotCatalog) {
        self.reconciler = reconciler
        self.store = store
    }

    public func run(_ desired: DesiredState, projectDirectory: String, only: Set<String> = [], force: Bool = false,
                    secrets: [String] = [], report: @Sendable (SeedOutcome) -> Void = { _ in }) async throws -> [SeedOutcome] {
        let spec = desired.spec
        for name in only where spec.seeds[name] == nil {
            throw HostError("no seed named \"\(name)\" in \(spec.name)")
        }
        var files: [String: [String: Data]] = [:]
        var checksums: [String: String] = [:]
        for (name, seed) in spec.seeds {
            var read: [String: Data] = [:]
            for path in [seed.stdin, seed.action.file].compactMap({ $0 }) {
                do { read[path] = try host.readProjectFile(path, projectDirectory: projectDirectory) } catch {
                    throw HostError("seed \(name): \(error)")
                }
            }
            files[name] = read
            checksums[name] = SeedPlanner.checksum(seed, files: read)
        }
        let decisions = SeedPlanner.plan(spec, checksums: checksums, ledger: try store.seedLedger(environment: spec.name), only: only, force: force)
        var failed: Set<String> = []
        var outcomes: [SeedOutcome] = []
        for decision in decisions {
            let seed = spec.seeds[decision.name]!
            let outcome: SeedOutcome
            if let blocker = seed.after.first(where: failed.contains) {
                outcome = SeedOutcome(name: decision.name, status: .blocked, detail: "seed \(blocker) failed", durationMs: 0)
                failed.insert(decision.name)
            } else if case let .skip(reason) = decision.verdict {
                outcome = SeedOutcome(name: decision.name, status: .skipped, detail: reason, durationMs: 0)
            } else {
                let id = try store.beginSeedRun(environment: spec.name, seed: decision.name, checksum: decision.checksum, revision: desired.revision)
                let start = ContinuousClock.now
                FaultInjection.reach(.midSeed, decision.name)
                var (ok, output) = await execute(decision.name, seed, files: files[decision.name] ?? [:], desired: desired, projectDirectory: projectDirectory)
                output = SecretMask(secrets).apply(output)
                let ms = Int((ContinuousClock.now - start) / .milliseconds(1))
                let tail = Self.tail(output)
                try store.finishSeedRun(id: id, succeeded: ok, durationMs: ms, outputTail: tail)
                if case let .run(cause) = decision.verdict {
                    // The ledger above holds the outcome; the event log must not lose it either.
                    try store.record(EventRecord(environment: spec.name, revision: desired.revision, service: seed.service, action: "seed \(decision.name)",
                                                      cause: cause, outcome: ok ? "ok" : "failed", durationMs: ms, detail: ok ? nil : tail))
                    outcome = SeedOutcome(name: decision.name, status: ok ? .succeeded : .failed, detail: ok ? cause : (tail.isEmpty ? "failed" : tail), durationMs: ms)
                } else { continue }
                if !ok { failed.insert(decision.name) }
            }
            report(outcome)
            outcomes.append(outcome)
        }
        return outcomes
    }

    /// Loads a snapshot archive into the seed's volume, stopping and bringing back its users.
    func restore(_ name: String, _ source: RestoreSource, from origin: String, desired: DesiredState) async throws -> (Bool, String) {
        let executor = Executor(engine: engine, recordEvent: store.sink { warning in
            FileHandle.standardError.write(Data("devstack: warning: \(warning)\n".utf8))
        })
        let outcome = try await SnapshotManager(reconciler, catalog: store).restore([source], label: "seed \(name) (\(origin))", desired: desired, executor: executor)
        guard outcome.converged else { return (false, "loaded \(origin) into volume \(source.volume), but the services using it did not come back healthy") }
        return (true, "loaded snapshot \(origin) into volume \(source.volume)")
    }

    static func tail(_ output: String) -> String {
        let lines = output.split(separator: "\n", omittingEmptySubsequences: false).suffix(20).joined(separator: "\n")
        return String(lines.suffix(2000)).trimmingCharacters(in: .whitespacesAndNewlines)
    }

    /// Seed input goes in as a file; `sh` feeds it to the command, whose arguments stay an array.
    static func withStdin(_ command: [String], file: String) -> [String] {
        ["sh", "-c", "exec \"$@\" < \(file)", "devstack-seed"] + command
    }

    func execute(_ name: String, _ seed: SeedSpec, files: [String: Data], desired: DesiredState, projectDirectory: String) async -> (Bool, String) {
        do {
            let inputName = "devstack-seed-\(name)"
            switch seed.action {
            case let .exec(command):
                let container = desired.workloads[seed.service!]!.name
                var argv = command
                if let stdin = seed.stdin {
                    try await engine.putArchive(container, path: "/tmp", archive: try Tar.single(name: inputName, contents: files[stdin]!))
                    argv = Self.withStdin(command, file: "/tmp/\(inputName)")
                }
                let result = try await engine.exec(container, command: argv)
                return (result.exitCode == 0, result.output + (result.exitCode == 0 ? "" : "\nexit code \(result.exitCode)"))
            case let .run(command):
                var workload = desired.workloads[seed.service!]!.helper(named: "\(desired.environment)-seed-\(name)", purpose: "seed")
                workload.command = seed.stdin == nil ? command : Self.withStdin(command, file: "/tmp/\(inputName)")
                try? await engine.removeContainer(workload.name)
                let id = try await engine.createContainer(workload)
                defer { Task { try? await engine.removeContainer(id) } }
                if let stdin = seed.stdin {
                    try await engine.putArchive(id, path: "/tmp", archive: try Tar.single(name: inputName, contents: files[stdin]!))
                }
                try await engine.startContainer(id)
                let code = try await engine.waitContainer(id)
                let output = (try? await engine.output(id)) ?? ""
                try? await engine.removeContainer(id)
                return (code == 0, output + (code == 0 ? "" : "\nexit code \(code)"))
            case let .copy(path):
                let data = files[path]!
                let archive = path.hasSuffix(".tar") ? data : try Tar.single(name: PathMath.components(path).last ?? "seed", contents: data)
                try await VolumeAccess(engine: engine, desired: desired).write(seed.volume!, archive: archive, purpose: "seed-\(name)")
                return (true, "copied \(path) into volume \(seed.volume!)")
            case let .snapshot(path, sha256):
                let source = RestoreSource(volume: seed.volume!, path: PathMath.join(projectDirectory, path), sha256: sha256)
                return try await restore(name, source, from: path, desired: desired)
            case let .registrySnapshot(reference):
                let archive = try await RegistryUseCases.seedArchive(reference, volume: seed.volume!, options: .live(), sink: { _ in })
                return try await restore(name, RestoreSource(volume: seed.volume!, path: archive.path, sha256: archive.sha256), from: reference, desired: desired)
            }
        } catch {
            return (false, "\(error)")
        }
    }
}
