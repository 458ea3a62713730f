import Application
import DockerEngine
import Reconciler
import Testing

/// Which published ports `devstack tunnel` forwards, and where each is reached from here.
@Suite struct TunnelTests {
    @Test func aPortIsReachedWhereItsEngineRunsItOrRefusedWithTheReason() throws {
        let everywhere = PortTunnel.Forward(localPort: 9000, hostIP: "0.0.0.0", hostPort: 8000)
        let loopback = PortTunnel.Forward(localPort: 9000, hostIP: "127.0.0.1", hostPort: 8000)
        let tcp = EngineEndpoint.tcp(host: "build-box", port: 2376, tls: nil)
        let ssh = EngineEndpoint.ssh(user: "me", host: "build-box", port: nil)
        #expect(try PortTunnel.target(of: everywhere, endpoint: tcp) == ("build-box", 8000))
        #expect(try PortTunnel.target(of: everywhere, endpoint: ssh) == ("127.0.0.1", 8000))
        #expect(try PortTunnel.target(of: loopback, endpoint: ssh) == ("127.0.0.1", 8000))
        #expect(throws: EngineError(.badRequest, "port 8000 is bound to 127.0.0.1 on build-box: only that machine reaches it; publish it on another address, or use an ssh:// engine, whose tunnel runs on that machine")) {
            try PortTunnel.target(of: loopback, endpoint: tcp)
        }
        #expect(throws: EngineError(.badRequest, "the engine runs on this machine (unix:///run/docker.sock): its published ports are here already")) {
            try PortTunnel.target(of: everywhere, endpoint: .unix(path: "/run/docker.sock"))
        }
    }

    @Test func onlyRunningServicesTCPPortsAreForwardedAtTheirNumberPlusTheOffset() throws {
        func container(_ service: String, _ state: ContainerState, _ ports: [PublishedPort]) -> ObservedContainer {
            ObservedContainer(id: service, name: "shop-\(service)", labels: [Labels.service: service], state: state, ports: ports)
        }
        let containers = [
            container("web", .running, [PublishedPort(hostIP: "0.0.0.0", hostPort: 8000, containerPort: 80, proto: "tcp"),
                                        PublishedPort(hostIP: "0.0.0.0", hostPort: 5353, containerPort: 53, proto: "udp")]),
            container("db", .exited(code: 0), [PublishedPort(hostIP: "0.0.0.0", hostPort: 3306, containerPort: 3306, proto: "tcp")]),
            container("api", .running, [PublishedPort(hostIP: "127.0.0.1", hostPort: 9000, containerPort: 9000, proto: "tcp")]),
        ]
        let all = try TunnelUseCase.forwards(containers, services: [], offset: 10000)
        #expect(all.map { $0.0 } == ["api", "web"])
        #expect(all.map { $0.2 } == [PortTunnel.Forward(localPort: 19000, hostIP: "127.0.0.1", hostPort: 9000),
                                 PortTunnel.Forward(localPort: 18000, hostIP: "0.0.0.0", hostPort: 8000)])
        #expect(try TunnelUseCase.forwards(containers, services: ["web"], offset: 0).map { $0.2.localPort } == [8000])
        #expect(throws: UseCaseError.self) { try TunnelUseCase.forwards(containers, services: [], offset: 60000) }
    }
}
