import Crypto
import EnvSpec
import Foundation


/// A revision made concrete for one machine: engine names, image references, resolved secrets.
public struct DesiredState: Sendable {
    public var spec: EnvironmentSpec
    public var revision: Int
    public var workloads: [String: Workload]
    /// Image builds needed, by service, with the tag their workload uses.
    public var builds: [String: ImageBuild]
    /// Resolved secret values, kept only to mask them in output.
    public var secretValues: [String] = []
    /// The same by name, for what a task's own variables refer to.
    public var secretsByName: [String: String] = [:]
    /// Networks devstack creates, by engine name: those the services join.
    public var networks: [String: NetworkDefinition] = [:]
    /// External networks the services join: they must exist, and are never created or removed.
    public var externalNetworks: [String] = []

    public var environment: String { spec.name }

    /// The engine's name for the network a spec calls `key`.
    public static func networkName(_ key: String, spec: EnvironmentSpec) -> String {
        if let declared = spec.networks[key] {
            if let name = declared.name { return name }
            if declared.external { return key }
        }
        return key == EnvironmentSpec.defaultNetwork ? Naming.network(spec.name) : "\(spec.name)-\(key)"
    }

    public var volumeNames: [String] {
        Array(Set(workloads.values.flatMap { $0.mounts.filter { $0.type == .volume }.map(\.source) })).sorted()
    }

    public enum ResolveError: Error, Sendable, CustomStringConvertible {
        case secret(name: String, reason: String)
        public var description: String {
            switch self {
            case let .secret(name, reason): return "secret \"\(name)\": \(reason)"
            }
        }
    }

    /// `readSecret` returns a secret's value; `contextHash` hashes a build context folder.
    /// `locks` pins services to registry digests: a locked service runs `repository@sha256:…`
    /// instead of its tag, as long as the spec still names the image the lock was taken for.
    public static func resolve(spec: EnvironmentSpec, revision: Int, projectDirectory: String,
                               readSecret: (SecretSource) throws -> String,
                               contextHash: (_ directory: String, _ dockerfile: String) throws -> String,
                               locks: [String: ImageLock] = [:], secretKey: String = "",
                               serviceHashes: [String: String] = [:]) throws -> DesiredState {
        var secretValues: [String: String] = [:]
        for (name, source) in spec.secrets.sorted(by: { $0.key < $1.key }) {
            do { secretValues[name] = try readSecret(source) } catch {
                throw ResolveError.secret(name: name, reason: "\(error)")
            }
        }
        var workloads: [String: Workload] = [:]
        var builds: [String: ImageBuild] = [:]
        var networks: [String: NetworkDefinition] = [:]
        var externals: Set<String> = []
        for (name, service) in spec.services {
            var image = service.image ?? ""
            if let lock = locks[name], lock.reference == image { image = lock.digest }
            if let build = service.build {
                let context = PathMath.join(projectDirectory, build.context)
                let hash = try contextHash(context, build.dockerfile)
                let tag = "devstack/\(spec.name)-\(name):\(hash.prefix(12))"
                builds[name] = ImageBuild(tag: tag, contextDirectory: context, dockerfile: build.dockerfile, args: build.args)
                image = tag
            }
            var env: [String: String] = [:]
            var secretInputs: [String] = []
            for (key, value) in service.env {
                switch value {
                case let .literal(s): env[key] = s
                case let .secret(secret):
                    env[key] = secretValues[secret] ?? ""
                    secretInputs.append("\(key)\u{0}\(secretValues[secret] ?? "")")
                }
            }
            let mounts = service.volumes.map { m -> MountSpec in
                var m = m
                m.source = m.type == .volume ? Naming.volume(spec.name, m.source) : PathMath.join(projectDirectory, m.source)
                return m
            }
            var labels = service.labels
            labels[Labels.environment] = spec.name
            labels[Labels.service] = name
            // Recorded revisions carry their services' hashes: not encoded and hashed again.
            labels[Labels.specHash] = serviceHashes[name] ?? service.specHash
            labels[Labels.revision] = String(revision)
            if !secretInputs.isEmpty && !secretKey.isEmpty {
                labels[Labels.secrets] = SecretDigest.label(secretInputs.sorted().joined(separator: "\u{1}"), key: secretKey)
            }
            // The default network first, then by key; the service name resolves on each of them.
            let joined = spec.networks(of: service).sorted {
                ($0.key == EnvironmentSpec.defaultNetwork ? 0 : 1, $0.key) < ($1.key == EnvironmentSpec.defaultNetwork ? 0 : 1, $1.key)
            }
            var workloadNetworks: [WorkloadNetwork] = []
            for (key, membership) in joined {
                let engineName = networkName(key, spec: spec)
                let declared = spec.networks[key] ?? NetworkSpec()
                if declared.external { externals.insert(engineName) } else if networks[engineName] == nil {
                    networks[engineName] = NetworkDefinition(name: engineName, driver: declared.driver ?? "bridge", isInternal: declared.isInternal, subnets: declared.subnets)
                }
                var aliases = [name]
                for alias in membership.aliases where !aliases.contains(alias) { aliases.append(alias) }
                workloadNetworks.append(WorkloadNetwork(name: engineName, aliases: aliases, ipv4Address: membership.ipv4Address))
            }
            workloads[name] = Workload(environment: spec.name, service: name, name: Naming.container(spec.name, name), image: image,
                                       command: service.command, entrypoint: service.entrypoint, workingDir: service.workingDir,
                                       user: service.user, env: env, ports: service.ports, mounts: mounts, networks: workloadNetworks,
                                       restart: service.restart, resources: service.resources, labels: labels,
                                       healthcheck: service.healthcheck, initProcess: service.initProcess,
                                       files: service.configs.sorted(by: { $0.key < $1.key }).map { WorkloadFile(path: $0.key, contents: spec.configs[$0.value.config] ?? "") })
        }
        for (name, service) in spec.services where service.healthcheckDisabled { workloads[name]?.healthcheckDisabled = true }
        for (name, service) in spec.services {
            workloads[name]?.deploy = service.deploy
            for case let .secret(secret) in service.env.values { workloads[name]?.secrets[secret] = secretValues[secret] ?? "" }
        }
        var desired = DesiredState(spec: spec, revision: revision, workloads: workloads, builds: builds)
        desired.secretValues = Array(secretValues.values)
        desired.secretsByName = secretValues
        desired.networks = networks
        desired.externalNetworks = externals.sorted()
        return desired
    }

    /// The part of the desired state that concerns `services`; the engine's other containers are
    /// then outside the plan, neither changed nor removed.
    public func restricted(to services: Set<String>) -> DesiredState {
        var copy = self
        copy.spec.services = spec.services.filter { services.contains($0.key) }
        copy.spec.seeds = spec.seeds.filter { spec.seeds(for: services).contains($0.key) }
        copy.workloads = workloads.filter { services.contains($0.key) }
        copy.builds = builds.filter { services.contains($0.key) }
        let used = Set(copy.workloads.values.flatMap { $0.networks.map(\.name) })
        copy.networks = networks.filter { used.contains($0.key) }
        copy.externalNetworks = externalNetworks.filter(used.contains)
        return copy
    }

    /// Services that run a registry image (not a build), by the reference their spec names.
    public var pulledImages: [String: String] {
        spec.services.compactMapValues { $0.build == nil ? $0.image : nil }
    }

    /// Network names to look up by name: those without the environment's prefix, and externals.
    public var networkNamesToCheck: [String] {
        (networks.keys.filter { !$0.hasPrefix("\(environment)-") } + externalNetworks).sorted()
    }

    /// Image references that must exist, pulled ones only (builds have their own tag).
    public var imageReferences: [String] {
        Array(Set(workloads.values.map(\.image))).sorted()
    }
}

/// HMAC-SHA256 under the store's random key, shortened: enough to notice a change, nothing to
/// learn the value from.
enum SecretDigest {
    static func label(_ text: String, key: String) -> String {
        let mac = HMAC<SHA256>.authenticationCode(for: Data(text.utf8), using: SymmetricKey(data: Data(key.utf8)))
        return CanonicalJSON.hex(mac.prefix(16))
    }
}
