import EnvSpec

/// What reconcile decided: a DAG of steps, each with the cause that justifies it. The executor
/// only carries it out; `devstack diff` prints it.
public struct Plan: Sendable, Equatable {
    public var environment: String
    public var steps: [Step]
    /// Reasons the plan must not run: it would fail half-way or touch what is not ours.
    public var problems: [String]

    public init(environment: String, steps: [Step], problems: [String]) {
        self.environment = environment
        self.steps = steps
        self.problems = problems
    }

    public var isEmpty: Bool { steps.isEmpty }
    /// Steps that change the engine (everything but waits).
    public var changes: [Step] { steps.filter { !$0.action.isWait } }

    public struct Step: Sendable, Equatable, Identifiable {
        public var id: Int
        public var action: Action
        public var service: String?
        public var cause: String
        public var dependsOn: [Int]
    }

    public enum Action: Sendable, Equatable {
        case createNetwork(NetworkDefinition)
        case createVolume(String)
        case pullImage(String)
        case buildImage(ImageBuild)
        case create(Workload)
        case recreate(containerID: String, Workload)
        case start(containerID: String)
        case remove(containerID: String, name: String)
        case removeNetwork(String)
        case removeVolume(String)
        case waitHealthy(Workload)
        case waitCompleted(Workload)

        public var isWait: Bool {
            switch self { case .waitHealthy, .waitCompleted: return true; default: return false }
        }

        /// Pulls or builds an image: only such a step can change the image behind a name.
        public var changesImages: Bool {
            switch self { case .pullImage, .buildImage: return true; default: return false }
        }

        /// Creates, starts, replaces or removes a container: what the engine's throughput is
        /// measured in.
        public var isContainerOperation: Bool {
            switch self { case .create, .recreate, .start, .remove: return true; default: return false }
        }

        /// A short verb for events and progress.
        public var verb: String {
            switch self {
            case .createNetwork: return "create-network"
            case .createVolume: return "create-volume"
            case .pullImage: return "pull"
            case .buildImage: return "build"
            case .create: return "create"
            case .recreate: return "recreate"
            case .start: return "start"
            case .remove: return "remove"
            case .removeNetwork: return "remove-network"
            case .removeVolume: return "remove-volume"
            case .waitHealthy: return "wait-healthy"
            case .waitCompleted: return "wait-completed"
            }
        }
    }

    /// One line per step, the text of `devstack diff` and of the golden tests.
    public var text: String {
        steps.map { step in
            let what: String
            switch step.action {
            case let .createNetwork(n): what = "+ network \(n.name)"
            case let .createVolume(v): what = "+ volume \(v)"
            case let .pullImage(i): what = "+ pull \(i)"
            case let .buildImage(b): what = "+ build \(b.tag)"
            case let .create(w): what = "+ create \(w.service)"
            case let .recreate(_, w): what = "~ recreate \(w.service)"
            case .start: what = "> start \(step.service ?? "")"
            case let .remove(_, name): what = "- remove \(step.service ?? name)"
            case let .removeNetwork(n): what = "- network \(n)"
            case let .removeVolume(v): what = "- volume \(v)"
            case let .waitHealthy(w): what = "… wait \(w.service) healthy"
            case let .waitCompleted(w): what = "… wait \(w.service) completed"
            }
            return "\(what) (\(step.cause))"
        }.joined(separator: "\n")
    }

    public var summary: String {
        let c = changes
        func count(_ p: (Action) -> Bool) -> Int { c.filter { p($0.action) }.count }
        let creates = count { if case .create = $0 { return true }; return false }
        let recreates = count { if case .recreate = $0 { return true }; return false }
        let starts = count { if case .start = $0 { return true }; return false }
        let removes = count { if case .remove = $0 { return true }; return false }
        let other = c.count - creates - recreates - starts - removes
        if c.isEmpty { return "no changes: the engine matches the desired state" }
        let parts = [(creates, "created"), (recreates, "recreated"), (starts, "started"), (removes, "removed"), (other, "other")]
            .filter { $0.0 > 0 }.map { "\($0.0) \($0.1)" }
        return parts.joined(separator: ", ")
    }
}
