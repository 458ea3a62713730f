import EnvSpec
import Foundation

/// The local machine as the reconciler sees it: secrets, build contexts and host ports.
public protocol HostAccess: Sendable {
    func readSecret(_ source: SecretSource, projectDirectory: String) throws -> String
    /// The digest of a build context folder: its files that `.dockerignore` keeps, and the Dockerfile.
    func contextHash(_ directory: String, dockerfile: String) throws -> String
    func isPortFree(hostIP: String, port: Int, proto: String) -> Bool
    /// A file of the project, such as a seed's input, relative to its folder.
    func readProjectFile(_ path: String, projectDirectory: String) throws -> Data
    /// Where a revision recorded without a project folder is resolved.
    var workingDirectory: String { get }
}

public struct HostError: Error, CustomStringConvertible, Sendable {
    public var description: String
    public init(_ description: String) { self.description = description }
}

/// Replaces secret values with "•••" in text devstack prints or records: seed output, logs.
public struct SecretMask: Sendable {
    public static let mark = "•••"
    let values: [String]

    /// Longest first, so a secret that contains another is masked whole.
    public init(_ values: [String]) { self.values = values.filter { !$0.isEmpty }.sorted { $0.count > $1.count } }

    /// The values of `spec`'s secrets that can be read on this machine.
    public init(spec: EnvironmentSpec, projectDirectory: String, host: any HostAccess) {
        self.init(spec.secrets.values.compactMap { try? host.readSecret($0, projectDirectory: projectDirectory) })
    }

    public var isEmpty: Bool { values.isEmpty }

    public func apply(_ text: String) -> String {
        values.reduce(text) { $0.replacingOccurrences(of: $1, with: Self.mark) }
    }
}
