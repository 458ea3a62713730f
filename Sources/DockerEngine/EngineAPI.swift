import Foundation

/// The Docker Engine API's request and response bodies that devstack uses (API 1.41), as
/// Codable models: field names are the engine's, so a typo is a compile error, and what the
/// engine sends is checked when it is read. Fields the engine may leave out or send as null are
/// optional.
enum EngineAPI {
    // MARK: requests

    struct ContainerCreate: Encodable {
        var Image: String
        var Env: [String]
        var Labels: [String: String]
        var ExposedPorts: [String: Empty]
        var Cmd: [String]?
        var Entrypoint: [String]?
        var WorkingDir: String?
        var User: String?
        var Healthcheck: HealthConfig?
        var HostConfig: HostConfig
        var NetworkingConfig: NetworkingConfig?
        /// A terminal and an open standard input, for an interactive one-off task.
        var Tty: Bool?
        var OpenStdin: Bool?
        var StdinOnce: Bool?
        var AttachStdin: Bool?
        var AttachStdout: Bool?
        var AttachStderr: Bool?
    }

    /// `{}`: the engine's way of saying "present".
    struct Empty: Codable {}

    struct HealthConfig: Encodable {
        var Test: [String]
        var Interval: Int?
        var Timeout: Int?
        var Retries: Int?
        var StartPeriod: Int?
    }

    struct HostConfig: Encodable {
        var Init: Bool
        var PortBindings: [String: [PortBinding]]
        var Mounts: [Mount]
        var RestartPolicy: RestartPolicy
        var NetworkMode: String
        var Memory: Int?
        var NanoCpus: Int?
    }

    struct PortBinding: Encodable {
        var HostIp: String
        var HostPort: String
    }

    struct Mount: Encodable {
        var `Type`: String
        var Source: String
        var Target: String
        var ReadOnly: Bool
    }

    struct RestartPolicy: Encodable {
        var Name: String
    }

    struct NetworkingConfig: Encodable {
        var EndpointsConfig: [String: EndpointSettings]
    }

    struct EndpointSettings: Encodable {
        var Aliases: [String]
        var IPAMConfig: EndpointIPAM?
    }

    struct EndpointIPAM: Encodable {
        var IPv4Address: String
    }

    struct NetworkConnect: Encodable {
        var Container: String
        var EndpointConfig: EndpointSettings?
        var Force: Bool?
    }

    struct NetworkCreate: Encodable {
        var Name: String
        var CheckDuplicate: Bool
        var Driver: String
        var Internal: Bool
        var Labels: [String: String]
        var IPAM: IPAM?
        /// Overlay networks of a swarm: containers outside its services may join too.
        var Attachable: Bool? = nil
    }

    struct IPAM: Encodable {
        var Driver: String
        var Config: [IPAMPool]
    }

    struct IPAMPool: Encodable {
        var Subnet: String
    }

    struct VolumeCreate: Encodable {
        var Name: String
        var Labels: [String: String]
    }

    struct ExecCreate: Encodable {
        var AttachStdout: Bool
        var AttachStderr: Bool
        var Cmd: [String]
        var Tty: Bool?
        var WorkingDir: String?
        var AttachStdin: Bool?
        var User: String?
        var Env: [String]?
        var ConsoleSize: [Int]?
    }

    struct ExecStart: Encodable {
        var Detach: Bool
        var Tty: Bool
    }

    // MARK: responses

    struct ContainerSummary: Decodable {
        var Id: String
        var Names: [String]?
        var Image: String?
        var ImageID: String?
        var Labels: [String: String]?
        var State: String?
        var Status: String?
        var Ports: [PortSummary]?
        var Created: Double?
    }

    struct PortSummary: Decodable {
        var IP: String?
        var PrivatePort: Int
        var PublicPort: Int?
        var `Type`: String?
    }

    struct NetworkSummary: Decodable {
        var Name: String
        var Labels: [String: String]?
        /// Endpoint IDs; their details are not needed.
        var Containers: [String: Ignored]?
    }

    /// A value whose content is not read.
    struct Ignored: Decodable {
        init(from decoder: Decoder) throws {}
    }

    struct VolumeList: Decodable {
        var Volumes: [VolumeSummary]?
    }

    struct VolumeSummary: Decodable {
        var Name: String
        var Labels: [String: String]?
    }

    struct ImageInspect: Decodable {
        var Id: String
        var RepoDigests: [String]?
    }

    struct ContainerInspect: Decodable {
        var State: ContainerInspectState
    }

    struct ContainerInspectState: Decodable {
        var Status: String
        var ExitCode: Int?
        var Health: HealthState?
    }

    struct HealthState: Decodable {
        var Status: String
    }

    struct Created: Decodable {
        var Id: String
    }

    struct WaitResult: Decodable {
        var StatusCode: Int
    }

    struct ExecInspect: Decodable {
        var ExitCode: Int?
    }

    struct ErrorMessage: Decodable {
        var message: String
    }

    /// One line of a pull or build progress stream; failures come inline.
    struct ProgressLine: Decodable {
        var error: String?
    }

    struct EventMessage: Decodable {
        var Action: String?
        var status: String?
        var Actor: EventActor?
    }

    struct EventActor: Decodable {
        var ID: String?
        var Attributes: [String: String]?
    }
}
