import EnvSpec
import DockerEngine
import Foundation
import Reconciler
import StateStore

/// `devstack tasks` and `devstack run TASK [-- ARGS]`: each repository's common actions, run in
/// the environment's services through the engine seam, each run recorded in the event log.
public enum TasksUseCase {
    public struct Listed: Sendable, Equatable {
        public var name: String
        public var task: TaskSpec
    }

    /// The recorded revision's tasks, by name.
    public static func list(workspace: Workspace, environment env: String) throws -> [Listed] {
        let spec = try workspace.store.revision(environment: env).spec
        return spec.tasks.keys.sorted().map { Listed(name: $0, task: spec.tasks[$0]!) }
    }

    /// How the caller's terminal takes part in an interactive task.
    public struct Terminal: Sendable {
        /// The size now; later sizes come through `resizes`.
        public var size: TerminalSize?
        /// Keystrokes, raw; the stream's end closes the task's standard input.
        public var input: AsyncStream<Data>
        public var resizes: AsyncStream<TerminalSize>
        public init(size: TerminalSize?, input: AsyncStream<Data>, resizes: AsyncStream<TerminalSize>) {
            self.size = size
            self.input = input
            self.resizes = resizes
        }
    }

    /// One run: the task as recorded, its resolved name and the arguments it gets.
    public struct Invocation: Sendable {
        public var name: String
        public var task: TaskSpec
        public var argv: [String]
    }

    /// Finds the task `name` calls and checks the extra arguments against its `args`.
    public static func invocation(workspace: Workspace, environment env: String, name: String, extra: [String]) throws -> Invocation {
        let spec = try workspace.store.revision(environment: env).spec
        switch TaskLookup.resolve(name, in: spec.tasks) {
        case let .failure(failure): throw UseCaseError(failure.description, invalidInput: true)
        case let .success(key):
            let task = spec.tasks[key]!
            if !extra.isEmpty && !task.args {
                throw UseCaseError("task \"\(key)\" takes no arguments: set \"args\": true in its definition to pass \(extra.joined(separator: " ")) through", invalidInput: true)
            }
            return Invocation(name: key, task: task, argv: task.argv(extra: extra))
        }
    }

    /// Runs the task: brings up what it needs, runs it (under `terminal` when given and the task
    /// is interactive), records the run, and returns its exit code. Output goes to `output`,
    /// secrets masked: line by line without a terminal, chunk by chunk with one.
    public static func run(workspace: Workspace, environment env: String, invocation: Invocation, terminal: Terminal?,
                           settings: ConvergeSettings, sink: @escaping ProgressSink, output: @escaping @Sendable (OutputFrame) -> Void) async throws -> Int {
        let started = ContinuousClock.now
        let task = invocation.task
        // The revision is read and made concrete (secrets, build contexts) once, for both steps.
        let stored = try workspace.store.revision(environment: env)
        let reconciler = try workspace.reconciler(stored.spec.engine)
        let desired = try reconciler.desiredState(stored)
        try await bringUp(workspace: workspace, stored: stored, reconciler: reconciler, desired: desired, task: task, settings: settings, sink: sink)
        let mask = SecretMask(desired.secretValues)
        let env = desired.environment
        var variables: [String: String] = [:]
        for (key, value) in task.env {
            switch value {
            case let .literal(text): variables[key] = text
            case let .secret(name): variables[key] = desired.secretsByName[name] ?? ""
            }
        }
        let options = ProcessOptions(workingDir: task.workingDir, user: task.user, env: variables)
        let engine = try Workspace.liveEngine()
        let interactive = task.interactive ? terminal : nil
        let code: Int
        do {
            switch task.mode {
            case .exec:
                // On the swarm engine: the service's task on the manager's node.
                let container = try await ExecUseCase.container(spec: stored.spec, service: task.service)
                if let interactive {
                    let (id, session) = try await engine.execAttached(container, command: invocation.argv, options: options, size: interactive.size)
                    try await pump(session, terminal: interactive, mask: mask, output: output)
                    code = try await engine.execExitCode(id)
                } else {
                    let (id, frames) = try await engine.execStream(container, command: invocation.argv, options: options)
                    try await forward(frames, mask: mask, output: output)
                    code = try await engine.execExitCode(id)
                }
            case .run:
                guard let service = desired.workloads[task.service] else { throw UseCaseError("no service named \"\(task.service)\" in \(env)") }
                var workload = service.helper(named: "\(env)-task-\(invocation.name.replacingOccurrences(of: ":", with: "-"))-\(UUID().uuidString.prefix(8).lowercased())", purpose: "task")
                workload.command = invocation.argv
                workload.env.merge(variables) { _, new in new }
                if let dir = task.workingDir { workload.workingDir = dir }
                if let user = task.user { workload.user = user }
                workload.terminal = interactive != nil
                code = try await runOneOff(workload, engine: engine, terminal: interactive, mask: mask, output: output)
            }
        } catch {
            record(workspace, env: env, revision: stored.summary.number, invocation, outcome: .failed, started: started, detail: mask.apply("\(error)"))
            throw error
        }
        record(workspace, env: env, revision: stored.summary.number, invocation, outcome: code == 0 ? .ok : .failed, started: started,
               detail: mask.apply("exit code \(code): \(invocation.argv.joined(separator: " "))"))
        return code
    }

    /// The task's service (for exec) and its `dependsOn` must run: when one does not, they are
    /// brought up as `apply --only` would, dependencies included.
    static func bringUp(workspace: Workspace, stored: StoredRevision, reconciler: Reconciler, desired full: DesiredState, task: TaskSpec,
                        settings: ConvergeSettings, sink: @escaping ProgressSink) async throws {
        let needed = Set(task.dependsOn + (task.mode == .exec ? [task.service] : []))
        guard !needed.isEmpty else { return }
        let env = stored.summary.environment
        let desired = full.restricted(to: stored.spec.dependencyClosure(of: needed))
        let observed = try await reconciler.observe(desired)
        let running = Set(observed.containers.filter { $0.state == .running }.compactMap { $0.labels[Labels.service] })
        guard !needed.isSubset(of: running) else { return }
        sink(.info("bringing up \(needed.subtracting(running).sorted().joined(separator: ", ")) for the task"))
        try await ConvergeUseCase(workspace: workspace, environment: env, revision: stored.summary.number, settings: settings, only: needed, sink: sink).run()
    }

    static func runOneOff(_ workload: Workload, engine: DockerContainerEngine, terminal: Terminal?, mask: SecretMask,
                          output: @escaping @Sendable (OutputFrame) -> Void) async throws -> Int {
        let id = try await engine.createContainer(workload)
        do {
            let code: Int
            if let terminal {
                let session = try await engine.attach(id)
                try await engine.startContainer(id)
                if let size = terminal.size { await session.resize(size) }
                try await pump(session, terminal: terminal, mask: mask, output: output)
                code = try await engine.waitContainer(id)
            } else {
                try await engine.startContainer(id)
                try await forward(engine.logs(id, follow: true, tail: nil, since: nil), mask: mask, output: output)
                code = try await engine.waitContainer(id)
            }
            try? await engine.removeContainer(id)
            return code
        } catch {
            try? await engine.removeContainer(id)
            throw error
        }
    }

    /// Output without a terminal: whole lines per stream, masked.
    static func forward(_ frames: AsyncThrowingStream<OutputFrame, Error>, mask: SecretMask, output: @Sendable (OutputFrame) -> Void) async throws {
        var pending: [UInt8: Data] = [:]
        for try await frame in frames {
            var buffer = pending[frame.stream, default: Data()] + frame.payload
            if let last = buffer.lastIndex(of: UInt8(ascii: "\n")) {
                let lines = buffer[buffer.startIndex...last]
                output((frame.stream, Data(mask.apply(String(decoding: lines, as: UTF8.self)).utf8)))
                buffer = Data(buffer[(last + 1)...])
            }
            pending[frame.stream] = buffer
        }
        for (stream, rest) in pending.sorted(by: { $0.key < $1.key }) where !rest.isEmpty {
            output((stream, Data(mask.apply(String(decoding: rest, as: UTF8.self)).utf8)))
        }
    }

    /// A terminal session: keystrokes and window sizes in, the process's output out, until the
    /// process ends.
    static func pump(_ session: AttachedSession, terminal: Terminal, mask: SecretMask, output: @escaping @Sendable (OutputFrame) -> Void) async throws {
        let feeding = Task {
            for await bytes in terminal.input { session.send(bytes) }
            session.closeInput()
        }
        let sizing = Task { for await size in terminal.resizes { await session.resize(size) } }
        defer {
            feeding.cancel()
            sizing.cancel()
            session.close()
        }
        for try await chunk in session.output {
            output((1, mask.isEmpty ? chunk : Data(mask.apply(String(decoding: chunk, as: UTF8.self)).utf8)))
        }
    }

    static func record(_ workspace: Workspace, env: String, revision: Int, _ invocation: Invocation, outcome: EventOutcome, started: ContinuousClock.Instant, detail: String) {
        let ms = (ContinuousClock.now - started).milliseconds
        do {
            try workspace.store.appendEvent(EventRecord(environment: env, revision: revision, service: invocation.task.service, action: EventAction.task.rawValue,
                                                        cause: "task \(invocation.name)", outcome: outcome.rawValue, durationMs: ms, detail: detail))
        } catch {
            FileHandle.standardError.write(Data("devstack: warning: the run of task \(invocation.name) was not recorded: \(error)\n".utf8))
        }
    }
}
