import Foundation

/// The Swarm part of the Docker Engine API (1.41) that devstack's swarm engine uses: services,
/// tasks, nodes, configs and secrets. Requests are written from scratch for each change (the
/// whole service spec, as `docker stack deploy` does); answers decode only what is read.
enum SwarmAPI {
    // MARK: requests

    struct ServiceSpec: Encodable, Equatable {
        var Name: String
        var Labels: [String: String]
        var TaskTemplate: TaskTemplate
        var Mode: Mode
        var UpdateConfig: UpdateConfig
        var EndpointSpec: EndpointSpec
    }

    struct TaskTemplate: Encodable, Equatable {
        var ContainerSpec: ContainerSpec
        var Resources: Resources
        var RestartPolicy: RestartPolicy
        var Placement: Placement
        var Networks: [NetworkAttachment]
        /// Raised to replace the tasks without changing anything else (`startContainer`).
        var ForceUpdate: Int
    }

    struct ContainerSpec: Encodable, Equatable {
        var Image: String
        var Labels: [String: String]
        /// Swarm's `Command` is the entrypoint, its `Args` the command.
        var Command: [String]?
        var Args: [String]?
        var Env: [String]
        var Dir: String?
        var User: String?
        var Mounts: [Mount]
        var Healthcheck: Health?
        var Init: Bool
        var Configs: [FileReference]
        var Secrets: [FileReference]
    }

    struct Health: Encodable, Equatable {
        var Test: [String]
        var Interval: Int?
        var Timeout: Int?
        var Retries: Int?
        var StartPeriod: Int?
    }

    struct Mount: Encodable, Equatable {
        var `Type`: String
        var Source: String
        var Target: String
        var ReadOnly: Bool
        /// A volume a node creates for a task carries the environment's label, like ours.
        var VolumeOptions: VolumeOptions?
    }

    struct VolumeOptions: Encodable, Equatable {
        var Labels: [String: String]
    }

    /// A config or secret as a file in the task's container. Configs carry `ConfigID` and
    /// `ConfigName`, secrets `SecretID` and `SecretName`.
    struct FileReference: Encodable, Equatable {
        var File: FileTarget
        var ConfigID: String?
        var ConfigName: String?
        var SecretID: String?
        var SecretName: String?
    }

    struct FileTarget: Encodable, Equatable {
        var Name: String
        var UID = "0"
        var GID = "0"
        var Mode: Int
    }

    struct Resources: Encodable, Equatable {
        var Limits: ResourceAmounts
        var Reservations: ResourceAmounts
    }

    struct ResourceAmounts: Encodable, Equatable {
        var NanoCPUs: Int?
        var MemoryBytes: Int?
    }

    struct RestartPolicy: Codable, Equatable {
        /// "none", "on-failure" or "any".
        var Condition: String
        /// Nanoseconds before a replacement starts: the swarm's own default is 5 s, long for a
        /// development environment whose task was killed by hand.
        var Delay: Int? = 1_000_000_000
    }

    struct Placement: Encodable, Equatable {
        var Constraints: [String]
    }

    struct NetworkAttachment: Encodable, Equatable {
        var Target: String
        var Aliases: [String]
    }

    struct Mode: Encodable, Equatable {
        var Replicated: Replicated
    }

    struct Replicated: Codable, Equatable {
        var Replicas: Int
    }

    /// All tasks at once, the old stopped before the new start (a development environment has
    /// no traffic to keep), and a short watch over the new ones.
    struct UpdateConfig: Encodable, Equatable {
        var Parallelism = 0
        var Order = "stop-first"
        var Monitor = 1_000_000_000
        var FailureAction = "pause"
    }

    struct EndpointSpec: Encodable, Equatable {
        var Mode = "vip"
        var Ports: [PortConfig]
    }

    struct PortConfig: Codable, Equatable {
        var `Protocol`: String
        var TargetPort: Int
        var PublishedPort: Int?
        /// "host": bound on the node that runs the task (the routing mesh needs IPVS).
        var PublishMode: String?
    }

    struct ObjectCreate: Encodable {
        var Name: String
        var Labels: [String: String]
        /// Base64, as the engine expects.
        var Data: String
    }

    // MARK: answers

    /// Swarm objects answer their creation with `ID`, containers with `Id`.
    struct Created: Decodable {
        var ID: String
    }

    struct Service: Decodable {
        var ID: String
        var Version: ObjectVersion
        var Spec: ServiceSpecSummary
        var Endpoint: Endpoint?
    }

    struct ObjectVersion: Decodable {
        var Index: Int
    }

    struct ServiceSpecSummary: Decodable {
        var Name: String
        var Labels: [String: String]?
        var TaskTemplate: TaskTemplateSummary
        var Mode: ModeSummary?
    }

    struct TaskTemplateSummary: Decodable {
        var ContainerSpec: ContainerSpecSummary?
        var RestartPolicy: RestartPolicy?
        var ForceUpdate: Int?
    }

    struct ContainerSpecSummary: Decodable {
        var Image: String?
        var Labels: [String: String]?
        var Healthcheck: HealthSummary?
    }

    struct HealthSummary: Decodable {
        var Test: [String]?
    }

    struct ModeSummary: Decodable {
        var Replicated: Replicated?
    }

    struct Endpoint: Decodable {
        var Ports: [PortConfig]?
    }

    struct Task: Decodable {
        var ID: String
        var ServiceID: String
        var NodeID: String?
        var DesiredState: String?
        var Status: TaskStatus
        var Spec: TaskTemplateSummary?
        var UpdatedAt: String?
    }

    struct TaskStatus: Decodable {
        var State: String
        var Message: String?
        var Err: String?
        var ContainerStatus: TaskContainer?
    }

    struct TaskContainer: Decodable {
        var ContainerID: String?
        var ExitCode: Int?
    }

    struct Node: Decodable {
        var ID: String
        var Description: NodeDescription?
    }

    struct NodeDescription: Decodable {
        var Hostname: String?
    }

    struct Info: Decodable {
        var Swarm: SwarmInfo?
    }

    struct SwarmInfo: Decodable {
        var NodeID: String?
        var LocalNodeState: String?
        var ControlAvailable: Bool?
    }

    /// A config or a secret, as listed.
    struct Object: Decodable {
        var ID: String
        var Spec: ObjectSpec
    }

    struct ObjectSpec: Decodable {
        var Name: String
        var Labels: [String: String]?
    }
}
