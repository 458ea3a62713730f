import EnvSpec
import Foundation


public enum StepOutcome: Sendable, Equatable {
    case succeeded
    case failed(String)
    case skipped(String)

    public var label: String {
        switch self {
        case .succeeded: return "ok"
        case let .failed(m): return "failed: \(m)"
        case let .skipped(m): return "skipped: \(m)"
        }
    }
}

public enum StepPhase: Sendable, Equatable {
    case started
    case finished(StepOutcome, durationMs: Int)
}

/// Where progress goes: a live TTY display, plain lines, or nothing in tests.
public protocol ProgressReporter: Sendable {
    func report(_ step: Plan.Step, _ phase: StepPhase)
}

public struct SilentProgress: ProgressReporter {
    public init() {}
    public func report(_ step: Plan.Step, _ phase: StepPhase) {}
}

public struct ExecutionReport: Sendable {
    public var outcomes: [Int: StepOutcome] = [:]
    public var durations: [Int: Int] = [:]
    /// Container IDs created by this run, by service.
    public var containers: [String: String] = [:]

    public var failures: [(step: Int, message: String)] {
        outcomes.compactMap { id, o in if case let .failed(m) = o { return (id, m) } else { return nil } }.sorted { $0.step < $1.step }
    }
    public var succeeded: Bool { outcomes.values.allSatisfy { $0 == .succeeded } }
    /// What this run says about the engine's throughput at its parallelism: nil unless it kept
    /// the engine at that many operations at once, ran at least twice as many, and waited on no
    /// pull or build (whose time is the network's or the compiler's, not the engine's).
    public var throughput: ThroughputSample?
}

/// Carries out a plan in dependency order with bounded parallelism. It makes no decisions: a
/// failed step skips its dependents and nothing else.
public struct Executor: Sendable {
    public var engine: any ContainerEngine
    public var maxParallel: Int
    public var progress: any ProgressReporter
    public var recordEvent: @Sendable (EventRecord) -> Void
    /// Health probes, retries and the deadline run on this timeline.
    public var timeline: any Timeline
    /// The moment on `timeline` after which waits give up.
    public var deadline: Duration?
    /// Seconds a container gets to stop before it is killed.
    public var stopTimeout: Int

    /// `timeout` counts from now.
    public init(engine: any ContainerEngine, maxParallel: Int = 8, progress: any ProgressReporter = SilentProgress(),
                recordEvent: @escaping @Sendable (EventRecord) -> Void = { _ in }, timeline: any Timeline = .system,
                timeout: Duration? = nil, stopTimeout: Int = 10) {
        self.engine = engine
        self.maxParallel = max(1, maxParallel)
        self.progress = progress
        self.recordEvent = recordEvent
        self.timeline = timeline
        self.deadline = timeout.map { timeline.now + $0 }
        self.stopTimeout = stopTimeout
    }

    public func run(_ plan: Plan, revision: Int?) async -> ExecutionReport {
        var report = ExecutionReport()
        var pending = Set(plan.steps.map(\.id))
        var runningEngineSteps = 0
        let steps = Dictionary(uniqueKeysWithValues: plan.steps.map { ($0.id, $0) })
        // The throughput measurement: time with at least one engine step in flight, the most in
        // flight at once, and the container steps that finished.
        var busySince: Duration?
        var busy = Duration.zero
        var peak = 0
        var containerSteps = 0

        await withTaskGroup(of: (Int, StepOutcome, Int, String?).self) { group in
            func launchReady() {
                var changed = true
                while changed {
                    changed = false
                    for id in pending.sorted() {
                        let step = steps[id]!
                        if let blocker = step.dependsOn.first(where: { dep in report.outcomes[dep].map { $0 != .succeeded } ?? false }) {
                            let what = steps[blocker]!.service.map { "\($0) did not become ready" } ?? "\(steps[blocker]!.action.verb) failed"
                            let outcome = StepOutcome.skipped(what)
                            report.outcomes[id] = outcome
                            pending.remove(id)
                            progress.report(step, .finished(outcome, durationMs: 0))
                            record(step, plan: plan, revision: revision, outcome: outcome, durationMs: 0)
                            changed = true
                            continue
                        }
                        guard step.dependsOn.allSatisfy({ report.outcomes[$0] == .succeeded }) else { continue }
                        let isWait = step.action.isWait
                        if !isWait && runningEngineSteps >= maxParallel { continue }
                        if !isWait {
                            if runningEngineSteps == 0 { busySince = timeline.now }
                            runningEngineSteps += 1
                            peak = max(peak, runningEngineSteps)
                        }
                        pending.remove(id)
                        progress.report(step, .started)
                        group.addTask {
                            let start = self.timeline.now
                            let (outcome, containerID) = await self.execute(step, environment: plan.environment)
                            let ms = (self.timeline.now - start).milliseconds
                            return (id, outcome, ms, containerID)
                        }
                    }
                }
            }
            launchReady()
            while let (id, outcome, ms, containerID) = await group.next() {
                let step = steps[id]!
                if !step.action.isWait {
                    runningEngineSteps -= 1
                    if runningEngineSteps == 0, let since = busySince { busy += timeline.now - since }
                    if outcome == .succeeded, step.action.isContainerOperation { containerSteps += 1 }
                }
                report.outcomes[id] = outcome
                report.durations[id] = ms
                if let containerID, let service = step.service { report.containers[service] = containerID }
                progress.report(step, .finished(outcome, durationMs: ms))
                record(step, plan: plan, revision: revision, outcome: outcome, durationMs: ms)
                launchReady()
            }
        }
        if !plan.steps.contains(where: { $0.action.changesImages }), peak == maxParallel, containerSteps >= 2 * maxParallel {
            report.throughput = ThroughputSample(parallel: maxParallel, steps: containerSteps, busyMilliseconds: busy.milliseconds)
        }
        return report
    }

    func record(_ step: Plan.Step, plan: Plan, revision: Int?, outcome: StepOutcome, durationMs: Int) {
        let (result, detail): (String, String?) = {
            switch outcome {
            case .succeeded: return (EventOutcome.ok.rawValue, nil)
            case let .failed(m): return (EventOutcome.failed.rawValue, m)
            case let .skipped(m): return (EventOutcome.skipped.rawValue, m)
            }
        }()
        recordEvent(EventRecord(environment: plan.environment, revision: revision, service: step.service, action: step.action.verb,
                                cause: step.cause, outcome: result, durationMs: durationMs, detail: detail))
    }

    func execute(_ step: Plan.Step, environment: String) async -> (StepOutcome, String?) {
        do {
            switch step.action {
            case let .createNetwork(network):
                try await tolerate(.conflict) { try await engine.createNetwork(network, environment: environment) }
            case let .createVolume(name):
                try await tolerate(.conflict) { try await engine.createVolume(name, environment: environment) }
            case let .pullImage(reference):
                _ = try await engine.pullImage(reference)
            case let .buildImage(build):
                _ = try await engine.buildImage(build)
            case let .create(workload):
                return (.succeeded, try await createAndStart(workload))
            case let .recreate(oldID, workload):
                if let id = try await engine.update(oldID, to: workload) { return (.succeeded, id) }
                return (.succeeded, try await replace(oldID, with: workload))
            case let .start(id):
                try await engine.startContainer(id)
            case let .remove(id, _):
                try await tolerate(.notFound) { try await engine.stopContainer(id, timeoutSeconds: stopTimeout) }
                try await tolerate(.notFound) { try await engine.removeContainer(id) }
            case let .removeNetwork(name):
                try await removeNetwork(name)
            case let .removeVolume(name):
                try await tolerate(.notFound) { try await engine.removeVolume(name) }
            case let .waitHealthy(workload):
                return (try await waitHealthy(workload), nil)
            case let .waitCompleted(workload):
                return (try await waitCompleted(workload), nil)
            }
            return (.succeeded, nil)
        } catch let error as EngineError {
            return (.failed(error.message), nil)
        } catch is CancellationError {
            return (.failed("interrupted"), nil)
        } catch {
            return (.failed("\(error)"), nil)
        }
    }

    func createAndStart(_ workload: Workload) async throws -> String {
        let id = try await create(workload)
        try await engine.startContainer(id)
        FaultInjection.reach(.afterStart, workload.service)
        return id
    }

    /// Config files go in between create and start, so the program never sees a half-written one.
    func create(_ workload: Workload) async throws -> String {
        let id = try await engine.createContainer(workload)
        if !workload.files.isEmpty && !engine.takesFilesAtCreation {
            let archive = try Tar.files(workload.files.map { ($0.path, Data($0.contents.utf8), 0o644) })
            try await engine.putArchive(id, path: "/", archive: archive)
        }
        FaultInjection.reach(.afterCreate, workload.service)
        return id
    }

    /// A changed container's successor is made while it stops: the old one steps aside under
    /// another name, the new one is created (with its files) as the old one stops, started once
    /// it has stopped (never two at once on the same ports and volumes), and the old one is
    /// removed as the new one starts. Only the stop and the start stay on the path a user waits
    /// for. A successor that holds nothing exclusive (`startsBeforeTheOldStops`) starts as soon as
    /// it is created, whether or not the old one has finished stopping. An engine that cannot rename, or a container already gone, gets the plain order:
    /// stop, remove, create, start. An interrupted replacement leaves two containers for the
    /// service, and the next plan keeps the better one and removes the other.
    func replace(_ oldID: String, with workload: Workload) async throws -> String {
        let renamed: Bool
        do {
            renamed = try await engine.renameContainer(oldID, to: "\(workload.name)-replaced-\(oldID.prefix(12))")
        } catch is EngineError {
            renamed = false
        }
        guard renamed else {
            try await tolerate(.notFound) { try await engine.stopContainer(oldID, timeoutSeconds: stopTimeout) }
            try await tolerate(.notFound) { try await engine.removeContainer(oldID) }
            return try await createAndStart(workload)
        }
        async let stopped: Void = tolerate(.notFound) { try await engine.stopContainer(oldID, timeoutSeconds: stopTimeout) }
        let id: String
        do {
            id = try await create(workload)
        } catch {
            // As before this step existed: the old container stopped and gone, the error reported.
            try? await stopped
            try? await tolerate(.notFound) { try await engine.removeContainer(oldID) }
            throw error
        }
        if Self.startsBeforeTheOldStops(workload) {
            do {
                try await engine.startContainer(id)
            } catch {
                try? await stopped
                try? await tolerate(.notFound) { try await engine.removeContainer(oldID) }
                throw error
            }
            FaultInjection.reach(.afterStart, workload.service)
            try await stopped
            try await tolerate(.notFound) { try await engine.removeContainer(oldID) }
            return id
        }
        try await stopped
        async let removed: Void = tolerate(.notFound) { try await engine.removeContainer(oldID) }
        do {
            try await engine.startContainer(id)
        } catch {
            try? await removed
            throw error
        }
        FaultInjection.reach(.afterStart, workload.service)
        try await removed
        return id
    }

    /// Whether a successor may run beside the container it replaces: only when it holds nothing
    /// two containers cannot share — no host port, no volume or bind (a database's files), no
    /// fixed address.
    static func startsBeforeTheOldStops(_ workload: Workload) -> Bool {
        workload.ports.allSatisfy { $0.hostPort == nil } && workload.mounts.isEmpty
            && workload.networks.allSatisfy { $0.ipv4Address == nil }
    }

    func tolerate(_ kind: EngineError.Kind, _ body: () async throws -> Void) async throws {
        do { try await body() } catch let error as EngineError where error.kind == kind {}
    }

    /// dockerd 20.10 can report "active endpoints" for a moment after the containers are gone (moby#42119).
    func removeNetwork(_ name: String) async throws {
        var delay = Duration.milliseconds(100)
        for attempt in 0..<8 {
            do {
                try await engine.removeNetwork(name)
                return
            } catch let error as EngineError where error.kind == .notFound {
                return
            } catch let error as EngineError where error.message.contains("active endpoints") && attempt < 7 {
                try await timeline.sleep(for: delay)
                delay = min(delay * 2, .seconds(2))
            }
        }
    }

    var timedOut: Bool { deadline.map { timeline.now >= $0 } ?? false }

    /// Probes readiness from the moment the container starts, instead of waiting out the engine's
    /// first health interval: the health command runs at once, then with a short back-off.
    func waitHealthy(_ workload: Workload) async throws -> StepOutcome {
        guard let check = workload.healthcheck else { return .succeeded }
        let budgetMs = check.startPeriodMs + check.intervalMs * check.retries + check.timeoutMs
        let ownDeadline = timeline.now + .milliseconds(budgetMs)
        var delay = Duration.milliseconds(50)
        var lastOutput = ""
        while true {
            let status = try await engine.inspectContainer(workload.name)
            switch status.state {
            case let .exited(code): return .failed("exited with code \(code) before becoming healthy\(lastOutput.isEmpty ? "" : ": \(lastOutput)")")
            case .dead: return .failed("container is dead")
            default: break
            }
            if status.health == .healthy { return .succeeded }
            if status.state == .running {
                if let result = try? await engine.exec(workload.name, command: check.command) {
                    if result.exitCode == 0 { return .succeeded }
                    lastOutput = result.output.trimmingCharacters(in: .whitespacesAndNewlines).split(separator: "\n").last.map(String.init) ?? "exit code \(result.exitCode)"
                }
            }
            if timeline.now >= ownDeadline || timedOut {
                let seconds = Double(budgetMs) / 1000
                return .failed("not healthy after \(timedOut ? "the apply timeout" : "\(seconds)s") (health check \(check.command.joined(separator: " "))\(lastOutput.isEmpty ? "" : ": \(lastOutput)"))")
            }
            try await timeline.sleep(for: delay)
            delay = min(delay * 2, .milliseconds(min(check.intervalMs, 1000)))
        }
    }

    func waitCompleted(_ workload: Workload) async throws -> StepOutcome {
        var delay = Duration.milliseconds(50)
        while true {
            let status = try await engine.inspectContainer(workload.name)
            if case let .exited(code) = status.state {
                return code == 0 ? .succeeded : .failed("exited with code \(code)")
            }
            if timedOut { return .failed("did not complete before the apply timeout") }
            try await timeline.sleep(for: delay)
            delay = min(delay * 2, .seconds(1))
        }
    }
}
