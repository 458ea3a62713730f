import EnvSpec
import Foundation
import Reconciler

/// A host with no secrets files, no build contexts and every port free.
public struct FakeHost: HostAccess {
    public var busyPorts: Set<Int>
    public var secrets: [String: String]
    public init(busyPorts: Set<Int> = [], secrets: [String: String] = [:]) {
        self.busyPorts = busyPorts
        self.secrets = secrets
    }
    public func readSecret(_ source: SecretSource, projectDirectory: String) throws -> String {
        switch source {
        case let .environment(name), let .file(name):
            guard let value = secrets[name] else { throw HostError("\(name) is not set") }
            return value
        }
    }
    public func contextHash(_ directory: String, dockerfile: String) throws -> String { CanonicalJSON.sha256(directory) }
    public func isPortFree(hostIP: String, port: Int, proto: String) -> Bool { !busyPorts.contains(port) }
    public var files: [String: String] = [:]
    public var workingDirectory: String { "/project" }
    public func readProjectFile(_ path: String, projectDirectory: String) throws -> Data {
        guard let text = files[path] else { throw HostError("cannot read \(path)") }
        return Data(text.utf8)
    }
}

public enum SpecBuilder {
    /// Parses an environment file's JSON text with nothing around it.
    public static func parse(_ json: String, host: [String: String] = [:]) throws -> EnvironmentSpec {
        let loader = EnvironmentLoader(readFile: { _ in json }, hostEnvironment: host, currentDirectory: "/project")
        return try loader.load("env.json").spec
    }

    public static func desired(_ json: String, revision: Int = 1, secrets: [String: String] = [:]) throws -> DesiredState {
        let host = FakeHost(secrets: secrets)
        return try DesiredState.resolve(spec: try parse(json), revision: revision, projectDirectory: "/project",
                                        readSecret: { try host.readSecret($0, projectDirectory: "/project") },
                                        contextHash: { try host.contextHash($0, dockerfile: $1) })
    }
}
