/// The desired state of one environment, after includes are merged, variables interpolated and
/// defaults filled in. Every field here is part of the canonical form and therefore of the hash.
public struct EnvironmentSpec: Sendable, Equatable {
    public var name: String
    public var services: [String: ServiceSpec]
    public var seeds: [String: SeedSpec]
    public var secrets: [String: SecretSource]
    /// Config files by name: their rendered text, written into the containers that mount them.
    public var configs: [String: String]
    /// Networks besides the environment's default one, by the key services use for them.
    public var networks: [String: NetworkSpec]
    /// The common actions of the environment's repositories, by name (`INCLUDE:NAME` for an
    /// included environment's).
    public var tasks: [String: TaskSpec] = [:]
    /// Where the environment runs: one Docker engine (the default) or a Docker Swarm.
    public var engine: EngineKind = .docker

    public init(name: String, services: [String: ServiceSpec] = [:], seeds: [String: SeedSpec] = [:], secrets: [String: SecretSource] = [:],
                configs: [String: String] = [:], networks: [String: NetworkSpec] = [:]) {
        self.name = name
        self.services = services
        self.seeds = seeds
        self.secrets = secrets
        self.configs = configs
        self.networks = networks
    }

    /// The key of the network every service joins when it names none.
    public static let defaultNetwork = "default"

    /// The networks a service joins, by key: its own list, or the default network.
    public func networks(of service: ServiceSpec) -> [String: ServiceNetwork] {
        service.networks.isEmpty ? [Self.defaultNetwork: ServiceNetwork()] : service.networks
    }

    /// Fills in each service's config digests, so that a changed config changes exactly the hashes
    /// of the services that mount it.
    public mutating func sealConfigDigests() {
        for (name, service) in services where !service.configs.isEmpty {
            var sealed = service
            for (target, ref) in service.configs {
                sealed.configs[target] = ConfigMount(config: ref.config, sha256: configs[ref.config].map(CanonicalJSON.sha256) ?? "")
            }
            services[name] = sealed
        }
    }

    public var serviceNames: [String] { services.keys.sorted() }

    /// `roots` and everything they depend on, transitively: what `apply --only` brings up.
    public func dependencyClosure(of roots: Set<String>) -> Set<String> {
        var closure: Set<String> = []
        var pending = Array(roots)
        while let name = pending.popLast() {
            guard closure.insert(name).inserted, let service = services[name] else { continue }
            pending += service.dependsOn.keys
        }
        return closure.intersection(services.keys)
    }

    /// Seeds that touch only `services`: their service is one of them, or one of them mounts their volume.
    public func seeds(for services: Set<String>) -> Set<String> {
        Set(seeds.filter { _, seed in
            if let service = seed.service { return services.contains(service) }
            guard let volume = seed.volume else { return false }
            return services.contains { self.services[$0]?.volumes.contains { $0.type == .volume && $0.source == volume } ?? false }
        }.keys)
    }
}

public struct ServiceSpec: Sendable, Equatable {
    public var image: String?
    public var build: BuildSpec?
    public var pullPolicy: PullPolicy = .missing
    public var command: [String]?
    public var entrypoint: [String]?
    public var workingDir: String?
    public var user: String?
    public var env: [String: EnvValue] = [:]
    public var ports: [PortSpec] = []
    public var volumes: [MountSpec] = []
    public var dependsOn: [String: DependencyCondition] = [:]
    public var healthcheck: HealthcheckSpec?
    /// `"healthcheck": {"disable": true}`: the image's own health check is turned off.
    public var healthcheckDisabled: Bool = false
    public var restart: RestartPolicy = .no
    public var resources: ResourcesSpec = ResourcesSpec()
    public var labels: [String: String] = [:]
    public var profiles: [String] = []
    /// Run an init process as PID 1 so that stops are prompt even when the program ignores SIGTERM.
    public var initProcess: Bool = true
    /// Absolute path in the container → the config file written there before the container starts.
    public var configs: [String: ConfigMount] = [:]
    /// Networks the service joins, by key, with its aliases there; empty means the default network.
    public var networks: [String: ServiceNetwork] = [:]
    /// `develop.watch`: how edits in the working tree reach the running service. The one field
    /// outside the service's canonical form: the environment's form carries it (`develop`), so
    /// a changed rule is a new revision that recreates nothing.
    public var develop: [WatchRule] = []
    /// Replicas, placement and reservations: honoured by the swarm engine only.
    public var deploy: DeploySpec = DeploySpec()

    public init(image: String? = nil) { self.image = image }
}

/// A network of the environment. devstack creates and removes it (as `ENV-KEY`, or `name`),
/// except an external one, which must exist and is used, never created or removed.
public struct NetworkSpec: Sendable, Equatable {
    /// The engine's name for it; for an external network, the existing network's name.
    public var name: String?
    public var external: Bool = false
    /// No route to the outside world.
    public var isInternal: Bool = false
    public var driver: String?
    /// IPv4 subnets in CIDR form, such as "172.28.0.0/16".
    public var subnets: [String] = []
    public init(name: String? = nil, external: Bool = false, isInternal: Bool = false, driver: String? = nil, subnets: [String] = []) {
        self.name = name
        self.external = external
        self.isInternal = isInternal
        self.driver = driver
        self.subnets = subnets
    }
}

/// How a service joins one network: the extra DNS names it answers to there, and a fixed
/// address where the network declares a subnet. Its service name always resolves too.
public struct ServiceNetwork: Sendable, Equatable {
    public var aliases: [String] = []
    public var ipv4Address: String?
    public init(aliases: [String] = [], ipv4Address: String? = nil) {
        self.aliases = aliases
        self.ipv4Address = ipv4Address
    }
}

/// A config file mounted by a service. The digest of the config's text is part of the service's
/// canonical form, so editing a config recreates the services that use it and no others.
public struct ConfigMount: Sendable, Equatable {
    public var config: String
    public var sha256: String
    public init(config: String, sha256: String = "") {
        self.config = config
        self.sha256 = sha256
    }
}

public struct BuildSpec: Sendable, Equatable {
    public var context: String
    public var dockerfile: String = "Dockerfile"
    public var args: [String: String] = [:]
    public init(context: String) { self.context = context }
}

public enum PullPolicy: String, Sendable, CaseIterable { case missing, always, never }

public enum RestartPolicy: String, Sendable, CaseIterable {
    case no
    case always
    case onFailure = "on-failure"
    case unlessStopped = "unless-stopped"
}

public enum DependencyCondition: String, Sendable, CaseIterable { case started, healthy, completed }

/// An environment variable's value: a literal, or a reference to a declared secret that is resolved
/// only when a container is created, never stored.
public enum EnvValue: Sendable, Equatable {
    case literal(String)
    case secret(String)
}

public struct PortSpec: Sendable, Equatable {
    /// Loopback by default: devstack publishes nothing to the network unless asked to.
    public var hostIP: String = "127.0.0.1"
    public var hostPort: Int?
    public var containerPort: Int
    public var proto: String = "tcp"
    public init(hostIP: String = "127.0.0.1", hostPort: Int?, containerPort: Int, proto: String = "tcp") {
        self.hostIP = hostIP
        self.hostPort = hostPort
        self.containerPort = containerPort
        self.proto = proto
    }
}

public enum MountType: String, Sendable { case volume, bind }

public struct MountSpec: Sendable, Equatable {
    public var type: MountType
    public var source: String
    public var target: String
    public var readOnly: Bool = false
    /// A bind whose source is outside the project folder must say so: nothing on the host is
    /// shared with a container by accident.
    public var outsideProject: Bool = false
    public init(type: MountType, source: String, target: String, readOnly: Bool = false, outsideProject: Bool = false) {
        self.type = type
        self.source = source
        self.target = target
        self.readOnly = readOnly
        self.outsideProject = outsideProject
    }
}

public struct HealthcheckSpec: Sendable, Equatable {
    public var command: [String]
    public var intervalMs: Int = 5_000
    public var timeoutMs: Int = 5_000
    public var retries: Int = 3
    public var startPeriodMs: Int = 0
    public init(command: [String]) { self.command = command }
}

public struct ResourcesSpec: Sendable, Equatable {
    public var memoryBytes: Int?
    /// Thousandths of a CPU, so that the canonical form holds only integers.
    public var milliCPUs: Int?
    public init(memoryBytes: Int? = nil, milliCPUs: Int? = nil) {
        self.memoryBytes = memoryBytes
        self.milliCPUs = milliCPUs
    }
}

/// The backend an environment runs on. `docker`: containers on one engine (local or remote).
/// `swarm`: each service a Swarm service, scheduled by the swarm the engine manages.
public enum EngineKind: String, Sendable, CaseIterable { case docker, swarm }

/// How a service is spread over a swarm's nodes (compose's `deploy`).
public struct DeploySpec: Sendable, Equatable {
    public var replicas: Int = 1
    /// Swarm placement constraints, such as `node.labels.zone==eu` or `node.role!=manager`.
    public var constraints: [String] = []
    /// What the scheduler sets aside on a node for each task (the limits are `resources`).
    public var reservations: ResourcesSpec = ResourcesSpec()
    public init() {}
    /// Nothing asked beyond one replica anywhere: the canonical form leaves it out.
    public var isDefault: Bool { self == DeploySpec() }
}

/// Swarm's placement grammar: `KEY==VALUE` or `KEY!=VALUE`, the key under `node.` or `engine.labels.`.
public enum PlacementConstraint {
    public static func isValid(_ text: String) -> Bool {
        let op = text.range(of: "==") ?? text.range(of: "!=")
        guard let op else { return false }
        let key = text[..<op.lowerBound].trimmingCharacters(in: .whitespaces)
        let value = text[op.upperBound...].trimmingCharacters(in: .whitespaces)
        guard !value.isEmpty, !value.contains("=") else { return false }
        let keyOK = key.allSatisfy { $0.isASCII && ($0.isLetter || $0.isNumber || "._-".contains($0)) }
        return keyOK && (key.hasPrefix("node.") || key.hasPrefix("engine.labels.")) && !key.hasSuffix(".")
    }
}

/// A data seed: a named step that runs after its service is healthy and after the seeds in `after`.
public struct SeedSpec: Sendable, Equatable {
    public enum Action: Sendable, Equatable {
        /// Run a command in the service's running container.
        case exec([String])
        /// Run a command in a one-off container from the service's image.
        case run([String])
        /// Copy a file or archive into a named volume.
        case copy(String)
        /// Replace a named volume's contents with a snapshot archive that must hash to `sha256`.
        case snapshot(String, sha256: String)
        /// Replace a named volume's contents with a snapshot archive from a registry artifact,
        /// `oci://REF@sha256:…` (the manifest's digest pins every byte).
        case registrySnapshot(String)

        /// The project file the action reads, if any.
        public var file: String? {
            switch self {
            case .exec, .run, .registrySnapshot: return nil
            case let .copy(path), let .snapshot(path, _): return path
            }
        }
    }
    public var service: String?
    public var volume: String?
    public var action: Action
    /// A file fed to the command's standard input, relative to the environment file.
    public var stdin: String?
    public var after: [String] = []
    public init(service: String? = nil, volume: String? = nil, action: Action, stdin: String? = nil, after: [String] = []) {
        self.service = service
        self.volume = volume
        self.action = action
        self.stdin = stdin
        self.after = after
    }
}

/// Where a secret's value comes from. Only the reference is stored or exported.
public enum SecretSource: Sendable, Equatable {
    case environment(String)
    case file(String)
}

/// Where a config's text comes from in an environment file. A file is read when the environment is
/// loaded, so the revision records the text itself.
public enum ConfigSource: Sendable, Equatable {
    case content(String)
    case file(String)
}
