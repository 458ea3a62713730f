import Foundation
import TestSupport

/// A two-node Docker Swarm on this machine: this machine's dockerd is the manager, and a second
/// dockerd in a network namespace of its own (a veth pair to the host, its own bridge and
/// iptables) joins as a worker labelled `devstack-role=worker`. Both hold the busybox test image.
/// `stop` leaves the swarm on both, stops the worker and removes what the swarm made here.
final class TestSwarm {
    let dir: String
    let namespace: String
    let worker: BackgroundServer
    let managerAddress: String
    let workerAddress: String
    /// The worker's node ID in the swarm.
    private(set) var workerNode = ""
    private let hadGatewayBridge: Bool

    var workerHost: String { "unix://\(dir)/docker.sock" }

    init() throws {
        let info = Docker.run(["info", "--format", "{{.Swarm.LocalNodeState}}"]).stdout.trimmingCharacters(in: .whitespacesAndNewlines)
        guard info == "inactive" else { throw TestFailure("this machine's dockerd is already in a swarm (\(info)); the swarm tests make it the manager of a swarm of their own") }
        hadGatewayBridge = Docker.run(["network", "inspect", "docker_gwbridge"]).code == 0
        let tag = String(UUID().uuidString.prefix(4).lowercased())
        let subnet = Int.random(in: 1...250)
        dir = CLI.temporaryDirectory("devstack-swarm")
        namespace = "ds-swarm-\(tag)"
        managerAddress = "10.232.\(subnet).1"
        workerAddress = "10.232.\(subnet).2"
        try shell("""
            set -e
            ip netns add \(namespace)
            ip link add dsw\(tag)h type veth peer name dsw\(tag)n
            ip link set dsw\(tag)n netns \(namespace)
            ip addr add \(managerAddress)/24 dev dsw\(tag)h
            ip link set dsw\(tag)h up
            ip netns exec \(namespace) ip addr add \(workerAddress)/24 dev dsw\(tag)n
            ip netns exec \(namespace) ip link set dsw\(tag)n up
            ip netns exec \(namespace) ip link set lo up
            """, in: dir)
        // nsenter, not `ip netns exec`: that also remounts /sys, where dockerd then finds no cgroups.
        var arguments = ["/usr/bin/nsenter", "--net=/var/run/netns/\(namespace)", "/usr/sbin/dockerd", "--host", "unix://\(dir)/docker.sock",
                         "--data-root", dir + "/data", "--exec-root", dir + "/exec", "--pidfile", dir + "/dockerd.pid"]
        let containerd = "/var/run/docker/containerd/containerd.sock"
        if FileManager.default.fileExists(atPath: containerd) {
            arguments += ["--containerd", containerd, "--containerd-namespace", "devstack-swarm", "--containerd-plugins-namespace", "devstack-swarm-plugins"]
        }
        worker = try BackgroundServer(arguments, log: dir + "/dockerd.log")
        guard worker.wait(seconds: 60, until: { worker.output.contains("API listen on") }) else {
            throw TestFailure("the worker's dockerd did not start: \(worker.output.suffix(2000))")
        }
        try shell("""
            set -e
            docker save devstack/busybox:1.36 | docker -H \(workerHost) load -q
            docker swarm init --advertise-addr \(managerAddress) --listen-addr \(managerAddress):2377 --default-addr-pool 10.233.0.0/16 >/dev/null
            docker -H \(workerHost) swarm join --token "$(docker swarm join-token -q worker)" --advertise-addr \(workerAddress) --listen-addr \(workerAddress):2377 \(managerAddress):2377 >/dev/null
            """, in: dir)
        workerNode = Docker.run(["-H", workerHost, "info", "--format", "{{.Swarm.NodeID}}"]).stdout.trimmingCharacters(in: .whitespacesAndNewlines)
        try shell("docker node update --label-add devstack-role=worker \(workerNode) >/dev/null", in: dir)
        let deadline = Date().addingTimeInterval(30)
        while Docker.run(["node", "inspect", "-f", "{{.Status.State}}", workerNode]).stdout != "ready\n" {
            guard Date() < deadline else { throw TestFailure("the worker did not become ready in the swarm") }
            Thread.sleep(forTimeInterval: 0.2)
        }
    }

    /// The node a service's running task is on.
    func nodes(of service: String) -> [String] {
        let tasks = Docker.run(["service", "ps", "-q", "--filter", "desired-state=running", service]).stdout.split(separator: "\n").map(String.init)
        return tasks.map { Docker.run(["inspect", "-f", "{{.NodeID}}", $0]).stdout.trimmingCharacters(in: .whitespacesAndNewlines) }
    }

    /// Runs docker against the worker's engine.
    @discardableResult
    func onWorker(_ arguments: [String]) -> CLIResult { Docker.run(["-H", workerHost] + arguments) }

    func stop() {
        onWorker(["swarm", "leave", "--force"])
        Docker.run(["swarm", "leave", "--force"])
        worker.stop()
        if !hadGatewayBridge { Docker.run(["network", "rm", "docker_gwbridge"]) }
        CLI.run("ip", ["netns", "delete", namespace])
        for containerdNamespace in ["devstack-swarm", "devstack-swarm-plugins"] {
            CLI.run("ctr", ["-a", "/var/run/docker/containerd/containerd.sock", "namespaces", "rm", containerdNamespace])
        }
        try? FileManager.default.removeItem(atPath: dir)
    }
}
