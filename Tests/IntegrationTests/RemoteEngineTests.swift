import Foundation
import Testing
import TestSupport

/// Remote engines: the address rules, checked without a network. The tcp+TLS and ssh:// paths
/// were verified by hand against a second dockerd and a loopback sshd (docs/remote.md); their
/// tests hung inside the test runner and are not in the suite yet.
@Suite struct RemoteEngineTests {
    static let services = webAndWorker

    @Test func plainTCPIsRefusedUnlessItIsLoopbackOrAccepted() throws {
        let f = EngineFixture("plaintcp")
        defer { try? FileManager.default.removeItem(atPath: f.dir) }
        f.write(Self.services)
        #expect(f.devstack(["apply", f.file, "--record-only"]).code == 0)
        let refused = f.devstack(["status"], environment: ["DOCKER_HOST": "tcp://192.0.2.10:2375"])
        #expect(refused.code == 1)
        #expect(refused.stderr == "devstack: error: DOCKER_HOST=tcp://192.0.2.10:2375 has no TLS: anyone on the network could run containers as root there. Set DOCKER_TLS_VERIFY=1 with DOCKER_CERT_PATH, or DEVSTACK_INSECURE_ENGINE=1 if you accept that\n")
        let loopback = f.devstack(["status"], environment: ["DOCKER_HOST": "tcp://127.0.0.1:9"])
        #expect(loopback.stderr == "devstack: error: cannot reach the Docker engine at tcp://127.0.0.1:9: connection refused\n", "\(loopback.output)")
        let context = f.devstack(["status"], environment: ["DOCKER_CONTEXT": "nowhere", "DOCKER_CONFIG": f.dir + "/docker"])
        #expect(context.stderr.hasPrefix("devstack: error: no docker context named \"nowhere\""), "\(context.output)")
    }
}
