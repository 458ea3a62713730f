import ArgumentParser
import EnvSpec
import Foundation
import Application

/// Where the state database lives: --state, then DEVSTACK_STATE, then the XDG default.
struct StoreOptions: ParsableArguments {
    @Option(name: .long, help: ArgumentHelp("The state database.", valueName: "PATH"))
    var state: String?

    var path: String {
        let env = ProcessInfo.processInfo.environment
        if let state { return state }
        if let fromEnv = env["DEVSTACK_STATE"], !fromEnv.isEmpty { return fromEnv }
        if let xdg = env["XDG_STATE_HOME"], !xdg.isEmpty { return "\(xdg)/devstack/state.db" }
        let home = env["HOME"] ?? NSHomeDirectory()
        return "\(home)/.local/state/devstack/state.db"
    }

    /// Opens the database for writing, creating it on first use.
    func open() throws -> Workspace { try Workspace.open(path: path, access: .write) }

    /// Opens an existing database read-only: a read command never creates or changes one.
    func openForReading() throws -> Workspace { try Workspace.open(path: path, access: .read) }

    /// Opens an existing database for writing; never creates one.
    func openExisting() throws -> Workspace { try Workspace.open(path: path, access: .existing) }
}

struct EnvironmentOption: ParsableArguments {
    @Option(name: .long, help: ArgumentHelp("The environment, when the database holds several.", valueName: "NAME"))
    var env: String?
}

struct OutputOptions: ParsableArguments {
    @Flag(name: .long, help: "Print machine-readable JSON.")
    var json = false
}

extension EnvironmentLoader {
    static func cli(profiles: [String] = []) -> EnvironmentLoader {
        EnvironmentLoader.live(profiles: Set(profiles))
    }
}

/// Encodes Codable values for --json output, with stable key order.
enum JSONOutput {
    static func print<T: Encodable>(_ value: T) throws {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes]
        Swift.print(String(decoding: try encoder.encode(value), as: UTF8.self))
    }
}

/// Range checks for numeric flags: a huge value is a usage error, never an overflow later on.
enum NumericOption {
    /// A year, in seconds: deadlines computed from it still fit every clock.
    static let maxSeconds = 365 * 24 * 3600

    static func check(_ value: Int, _ flag: String, _ range: ClosedRange<Int>) throws {
        guard range.contains(value) else {
            throw ValidationError("\(flag) must be a whole number from \(range.lowerBound) to \(range.upperBound), found \(value)")
        }
    }
}

/// How to reach an OCI registry (push, pull, import and diff of oci:// references).
struct RegistryFlags: ParsableArguments {
    @Option(name: .long, help: ArgumentHelp("Trust this CA certificate (PEM) for the registry, besides the system's (default: $DEVSTACK_REGISTRY_CA).", valueName: "FILE"))
    var ca: String?
    @Flag(name: .long, help: "Speak plain HTTP to a registry on this machine (localhost, 127.0.0.1, ::1).")
    var plainHttp = false

    var options: RegistryOptions { .live(ca: ca, plainHTTP: plainHttp) }
}
/// `--engine docker|swarm`.
extension EngineKind: ExpressibleByArgument {}
