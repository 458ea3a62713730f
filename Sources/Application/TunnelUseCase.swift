import DockerEngine
import Foundation
import Reconciler

/// `devstack tunnel`: a remote engine's published ports on this machine's loopback, for as long
/// as the command runs.
public enum TunnelUseCase {
    public struct Opened: Sendable, Equatable {
        public var service: String
        public var local: Int
        public var remote: String
        public var containerPort: Int
    }

    /// The forwards for the environment's running containers (all services, or `services`):
    /// each TCP port at the same number plus `offset` on 127.0.0.1. Pure: the decision.
    public static func forwards(_ containers: [ObservedContainer], services: [String], offset: Int) throws -> [(String, PublishedPort, PortTunnel.Forward)] {
        var out: [(String, PublishedPort, PortTunnel.Forward)] = []
        for container in containers.sorted(by: { ($0.service ?? "") < ($1.service ?? "") }) {
            guard let service = container.service, services.isEmpty || services.contains(service), container.state == .running else { continue }
            for port in container.ports where port.proto == "tcp" && port.hostPort > 0 {
                let local = port.hostPort + offset
                guard (1...65535).contains(local) else {
                    throw UseCaseError("services.\(service): port \(port.hostPort) + --port-offset \(offset) = \(local) is not a port (1-65535)")
                }
                out.append((service, port, PortTunnel.Forward(localPort: local, hostIP: port.hostIP, hostPort: port.hostPort)))
            }
        }
        return out
    }

    /// A tunnel that is listening: its forwards, and `wait()` to keep it open.
    public struct Session: Sendable {
        let tunnel: PortTunnel
        public let forwards: [Opened]
        public func wait() async throws { try await tunnel.wait() }
    }

    /// Opens the tunnel; returns once it is listening.
    public static func open(workspace: Workspace, environment: String, services: [String], offset: Int) async throws -> Session {
        let stored = try workspace.store.revision(environment: environment)
        if let unknown = services.first(where: { stored.spec.services[$0] == nil }) {
            throw UseCaseError("no service \"\(unknown)\" in \(environment) (services: \(stored.spec.services.keys.sorted().joined(separator: ", ")))")
        }
        let reconciler = try workspace.reconciler(stored.spec.engine)
        let observed = try await reconciler.observe(try reconciler.desiredState(stored))
        let forwards = try forwards(observed.containers, services: services, offset: offset)
        guard !forwards.isEmpty else { throw UseCaseError("\(environment) has no running container with a published TCP port to forward") }
        let tunnel: PortTunnel
        do { tunnel = try PortTunnel.open(forwards.map(\.2)) } catch let error as EngineError { throw UseCaseError(error.message) }
        return Session(tunnel: tunnel, forwards: forwards.map { service, port, forward in
            Opened(service: service, local: forward.localPort, remote: StatusUseCase.published(port, remoteHost: observed.remoteHost), containerPort: port.containerPort)
        })
    }
}
