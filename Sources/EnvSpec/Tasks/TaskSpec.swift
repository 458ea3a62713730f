/// A repository's common action, run in one of the environment's services: `devstack run NAME`.
/// Tasks are part of the environment's canonical form (a changed task is a new revision) but not
/// of any service's, so editing a task never recreates a container.
public struct TaskSpec: Sendable, Equatable {
    public enum Mode: String, Sendable {
        /// In the service's running container.
        case exec
        /// In a one-off container of the service's image, with its env, volumes and networks.
        case run
    }

    public var service: String
    public var mode: Mode
    public var command: [String]
    public var description: String?
    /// Added to (or replacing) the service's variables for this task only.
    public var env: [String: EnvValue] = [:]
    public var workingDir: String?
    public var user: String?
    /// Services that must be up first; they are brought up as `apply --only` would.
    public var dependsOn: [String] = []
    /// `devstack run NAME -- ARGS…` appends ARGS to the command; without it, extra arguments are refused.
    public var args: Bool = false
    /// Gets a terminal (and the user's keyboard) when run from one.
    public var interactive: Bool = false

    public init(service: String, mode: Mode, command: [String]) {
        self.service = service
        self.mode = mode
        self.command = command
    }

    /// The argument vector for one invocation.
    public func argv(extra: [String]) -> [String] { command + extra }
}

/// Where tasks of included environments are found: `INCLUDE:TASK`, or `TASK` when only one
/// environment of the include tree defines it. The root file's own tasks are called by their names.
public enum TaskLookup {
    public static let separator: Character = ":"

    public enum Failure: Error, Sendable, Equatable, CustomStringConvertible {
        case unknown(name: String, suggestion: String)
        case ambiguous(name: String, candidates: [String])
        public var description: String {
            switch self {
            case let .unknown(name, suggestion): return "no task named \"\(name)\"\(suggestion); devstack tasks lists them"
            case let .ambiguous(name, candidates):
                return "task \"\(name)\" is defined by several included environments: run one of \(candidates.map { "\"\($0)\"" }.joined(separator: ", "))"
            }
        }
    }

    /// The key of the task `name` calls: the exact key, or the single included task of that name.
    public static func resolve(_ name: String, in tasks: [String: TaskSpec]) -> Result<String, Failure> {
        if tasks[name] != nil { return .success(name) }
        if !name.contains(separator) {
            let matches = tasks.keys.filter { key in key.split(separator: separator, maxSplits: 1).last.map(String.init) == name && key.contains(separator) }.sorted()
            if matches.count == 1 { return .success(matches[0]) }
            if matches.count > 1 { return .failure(.ambiguous(name: name, candidates: matches)) }
        }
        // Suggest bare names too: "pnig" means "ping" even when only dep:ping exists.
        let bare = tasks.keys.compactMap { $0.split(separator: separator, maxSplits: 1).dropFirst().first.map(String.init) }
        return .failure(.unknown(name: name, suggestion: Suggest.didYouMean(name, in: Set(tasks.keys).union(bare))))
    }
}

/// One `develop.watch` rule of a service (the compose-spec shape): how an edit under `path`
/// reaches the running service. Watch rules are recorded with the environment, outside the
/// service's own hash, so editing them never recreates a container.
public struct WatchRule: Sendable, Equatable {
    public enum Action: String, Sendable, CaseIterable {
        /// Copy changed files into the running container (deletions included), no restart.
        case sync
        /// Rebuild the image and recreate the service through the normal plan.
        case rebuild
        /// Sync, then restart the container.
        case syncRestart = "sync+restart"
    }

    /// A folder or file relative to the root environment file's folder.
    public var path: String
    /// Where `path` lands in the container (sync actions).
    public var target: String?
    public var action: Action
    /// `.dockerignore`-style patterns, relative to `path`.
    public var ignore: [String] = []

    public init(path: String, target: String? = nil, action: Action, ignore: [String] = []) {
        self.path = path
        self.target = target
        self.action = action
        self.ignore = ignore
    }
}
