import DockerEngine
import EnvSpec
import Foundation
import Reconciler
import StateStore

/// `logs` and `exec`: output and commands of an environment's containers, through the engine seam.
public enum LogsUseCase {
    /// One whole line of a service's output, secrets masked.
    public typealias LineSink = @Sendable (_ service: String, _ line: String) -> Void

    public static func services(workspace: Workspace, environment env: String, requested: [String]) throws -> [String] {
        let spec = try workspace.store.revision(environment: env).spec
        let names = requested.isEmpty ? spec.serviceNames : requested
        for name in names where spec.services[name] == nil {
            throw UseCaseError("no service named \"\(name)\" in \(env)", invalidInput: true)
        }
        return names
    }

    /// Streams each service's output as whole lines, masking the values of the environment's
    /// secrets. A service without a container says so in one line.
    public static func run(workspace: Workspace, environment env: String, services names: [String], follow: Bool, tail: Int?, since: String?,
                           line: @escaping LineSink) async throws {
        let stored = try workspace.store.revision(environment: env)
        let mask = SecretMask(spec: stored.spec, projectDirectory: stored.summary.projectDirectory ?? FileManager.default.currentDirectoryPath, host: LocalHost())
        let engine = try Workspace.liveEngine()
        let onSwarm = stored.spec.engine == .swarm
        try await withThrowingTaskGroup(of: Void.self) { group in
            for name in names {
                group.addTask {
                    do {
                        var pending: [UInt8: Data] = [:]
                        let target = Naming.container(env, name)
                        let frames = onSwarm ? engine.serviceLogs(target, follow: follow, tail: tail, since: since) : engine.logs(target, follow: follow, tail: tail, since: since)
                        for try await frame in frames {
                            var buffer = pending[frame.stream, default: Data()] + frame.payload
                            while let newline = buffer.firstIndex(of: UInt8(ascii: "\n")) {
                                line(name, mask.apply(String(decoding: buffer[buffer.startIndex..<newline], as: UTF8.self)))
                                buffer = Data(buffer[(newline + 1)...])
                            }
                            pending[frame.stream] = buffer
                        }
                        for rest in pending.values where !rest.isEmpty { line(name, mask.apply(String(decoding: rest, as: UTF8.self))) }
                    } catch let error as EngineError where error.kind == .notFound {
                        line(name, "(no container)")
                    }
                }
            }
            try await group.waitForAll()
        }
    }
}

public enum ExecUseCase {
    /// The container of a service the environment declares; on the swarm engine, its running
    /// task's container on the node the engine is (the only node its API reaches).
    public static func container(workspace: Workspace, environment env: String, service: String) async throws -> String {
        try await container(spec: try workspace.store.revision(environment: env).spec, service: service)
    }

    static func container(spec: EnvironmentSpec, service: String) async throws -> String {
        let env = spec.name
        guard spec.services[service] != nil else {
            throw UseCaseError("no service named \"\(service)\" in \(env)", invalidInput: true)
        }
        guard spec.engine == .swarm else { return Naming.container(env, service) }
        do {
            return try await Workspace.swarmEngine().localTaskContainer(Naming.container(env, service))
        } catch let error as EngineError {
            throw UseCaseError(error.message)
        }
    }

    /// Runs a command under the caller's terminal (raw keys, window size); returns its exit code.
    public static func runAttached(container: String, command: [String], workingDir: String?, terminal: TasksUseCase.Terminal,
                                   output: @escaping @Sendable (OutputFrame) -> Void) async throws -> Int {
        let engine = try Workspace.liveEngine()
        let (id, session) = try await engine.execAttached(container, command: command, options: ProcessOptions(workingDir: workingDir), size: terminal.size)
        try await TasksUseCase.pump(session, terminal: terminal, mask: SecretMask([]), output: output)
        return try await engine.execExitCode(id)
    }

    /// Runs a command without a terminal, streaming its output; returns its exit code.
    public static func run(container: String, command: [String], workingDir: String?, output: @escaping @Sendable (OutputFrame) -> Void) async throws -> Int {
        let engine = try Workspace.liveEngine()
        let (id, frames) = try await engine.execStream(container, command: command, workingDir: workingDir)
        for try await frame in frames { output(frame) }
        return try await engine.execExitCode(id)
    }
}
