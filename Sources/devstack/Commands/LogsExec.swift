import ArgumentParser
import DockerEngine
import Foundation
import Reconciler
import StateStore

extension Devstack {
    struct Logs: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Print services' output with a coloured prefix per service, like compose.")

        @Argument(help: "Services (all when left out).") var services: [String] = []
        @Flag(name: .shortAndLong, help: "Keep following new output.") var follow = false
        @Option(name: .long, help: "Only the last N lines of each service.") var tail: Int?
        @Option(name: .long, help: "Only output since this time (RFC 3339 or unix seconds).") var since: String?

        mutating func validate() throws {
            if let tail { try NumericOption.check(tail, "--tail", 0...Int(Int32.max)) }
            if let since, Timestamp.parse(since) == nil, Double(since) == nil {
                throw ValidationError("--since expects an RFC 3339 time (2026-11-27T10:00:00Z) or unix seconds, found \"\(since)\"")
            }
        }
        @OptionGroup var store: StoreOptions
        @OptionGroup var environment: EnvironmentOption

        func run() async throws {
            let db = try store.openForReading()
            let env = try db.resolveEnvironment(environment.env)
            let stored = try db.revision(environment: env)
            let spec = stored.spec
            let mask = SecretMask(spec: spec, projectDirectory: stored.summary.projectDirectory ?? FileManager.default.currentDirectoryPath, host: LocalHost())
            let names = services.isEmpty ? spec.serviceNames : services
            for name in names where spec.services[name] == nil {
                throw UserError("no service named \"\(name)\" in \(env)", exitCode: 2)
            }
            let engine = try EngineFactory.live()
            let width = names.map(\.count).max() ?? 0
            let colours = ["36", "33", "32", "35", "34", "31"]
            let sinceValue = since.map { value in Timestamp.parse(value).map { String(Int($0.timeIntervalSince1970)) } ?? value }
            let output = LineWriter()
            try await withThrowingTaskGroup(of: Void.self) { group in
                for (i, name) in names.enumerated() {
                    let prefix = Terminal.paint(name.padding(toLength: width, withPad: " ", startingAt: 0) + " |", colours[i % colours.count])
                    group.addTask {
                        do {
                            var pending: [UInt8: Data] = [:]
                            for try await frame in engine.logs(Naming.container(env, name), follow: follow, tail: tail, since: sinceValue) {
                                var buffer = pending[frame.stream, default: Data()] + frame.payload
                                while let newline = buffer.firstIndex(of: UInt8(ascii: "\n")) {
                                    output.write("\(prefix) \(mask.apply(String(decoding: buffer[buffer.startIndex..<newline], as: UTF8.self)))")
                                    buffer = Data(buffer[(newline + 1)...])
                                }
                                pending[frame.stream] = buffer
                            }
                            for rest in pending.values where !rest.isEmpty { output.write("\(prefix) \(mask.apply(String(decoding: rest, as: UTF8.self)))") }
                        } catch let error as EngineError where error.kind == .notFound {
                            output.write("\(prefix) (no container)")
                        }
                    }
                }
                try await group.waitForAll()
            }
        }
    }

    struct Exec: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Run a command in a service's container; its exit code becomes devstack's.")

        @Argument(help: "The service.") var service: String
        @Argument(parsing: .postTerminator, help: "The command and its arguments, after --.") var command: [String] = []
        @Option(name: .shortAndLong, help: "Working directory inside the container.") var workdir: String?
        @Flag(name: .customShort("T"), help: "Never allocate a TTY, even when interactive.") var noTTY = false
        @OptionGroup var store: StoreOptions
        @OptionGroup var environment: EnvironmentOption

        func run() async throws {
            guard !command.isEmpty else { throw UserError("give the command after --, e.g. devstack exec lms -- ls /", exitCode: 2) }
            let db = try store.openForReading()
            let env = try db.resolveEnvironment(environment.env)
            guard try db.revision(environment: env).spec.services[service] != nil else {
                throw UserError("no service named \"\(service)\" in \(env)", exitCode: 2)
            }
            let container = Naming.container(env, service)
            // An interactive terminal needs a hijacked connection; the docker CLI does that well.
            if !noTTY, isatty(STDIN_FILENO) == 1, isatty(STDOUT_FILENO) == 1, let docker = Self.which("docker") {
                var argv = ["docker", "exec", "-it"] + (workdir.map { ["-w", $0] } ?? []) + [container] + command
                let cArgs = argv.map { strdup($0) } + [nil]
                execv(docker, cArgs)
                argv.removeAll()
            }
            let engine = try EngineFactory.live()
            let (id, output) = try await engine.execStream(container, command: command, workingDir: workdir)
            for try await frame in output {
                (frame.stream == 2 ? FileHandle.standardError : FileHandle.standardOutput).write(frame.payload)
            }
            let code = try await engine.execExitCode(id)
            if code != 0 { throw ExitCode(Int32(truncatingIfNeeded: code)) }
        }

        static func which(_ name: String) -> String? {
            for dir in (ProcessInfo.processInfo.environment["PATH"] ?? "/usr/bin:/bin").split(separator: ":") {
                let path = "\(dir)/\(name)"
                if FileManager.default.isExecutableFile(atPath: path) { return path }
            }
            return nil
        }
    }
}

/// Whole lines from concurrent streams, never interleaved mid-line.
final class LineWriter: @unchecked Sendable {
    private let lock = NSLock()
    func write(_ line: String) {
        lock.withLock {
            print(line)
            Terminal.flush()
        }
    }
}
