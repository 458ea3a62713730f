import Foundation
import Testing
@testable import DockerEngine
import EnvSpec
@testable import Reconciler

/// The swarm engine's pure parts: a workload as a Swarm service spec, and a service's tasks as
/// the state the planner and `status` read.
@Suite struct SwarmMappingTests {
    static func workload() -> Workload {
        var check = HealthcheckSpec(command: ["true"])
        check.intervalMs = 1_000
        var w = Workload(environment: "shop", service: "web", name: "shop-web", image: "devstack/busybox:1.36", command: ["httpd", "-f"],
                         entrypoint: ["/bin/sh", "-c"], workingDir: "/srv", user: "1000", env: ["B": "2", "A": "1"],
                         ports: [PortSpec(hostIP: "0.0.0.0", hostPort: 8080, containerPort: 80, proto: "tcp")],
                         mounts: [MountSpec(type: .volume, source: "shop-data", target: "/data")],
                         networks: [WorkloadNetwork(name: "shop-net", aliases: ["web", "www"])], restart: .onFailure,
                         resources: ResourcesSpec(memoryBytes: 128 << 20, milliCPUs: 1500), labels: [Labels.environment: "shop", Labels.specHash: "h1"],
                         healthcheck: check, initProcess: true)
        w.deploy.replicas = 3
        w.deploy.constraints = ["node.labels.zone==eu"]
        w.deploy.reservations = ResourcesSpec(memoryBytes: 64 << 20, milliCPUs: 250)
        return w
    }

    @Test func aWorkloadBecomesAServiceSpecFieldByField() throws {
        let spec = SwarmServiceEngine.serviceSpec(Self.workload(), configs: [], secrets: [], forceUpdate: 4)
        let c = spec.TaskTemplate.ContainerSpec
        #expect(spec.Name == "shop-web")
        #expect(c.Command == ["/bin/sh", "-c"], "swarm's Command is the entrypoint")
        #expect(c.Args == ["httpd", "-f"])
        #expect(c.Env == ["A=1", "B=2"])
        #expect(c.Healthcheck == SwarmAPI.Health(Test: ["CMD", "true"], Interval: 1_000_000_000, Timeout: 5_000_000_000, Retries: 3, StartPeriod: 0))
        #expect(c.Mounts == [SwarmAPI.Mount(Type: "volume", Source: "shop-data", Target: "/data", ReadOnly: false,
                                            VolumeOptions: SwarmAPI.VolumeOptions(Labels: [Labels.environment: "shop"]))])
        #expect(spec.TaskTemplate.RestartPolicy == SwarmAPI.RestartPolicy(Condition: "on-failure", Delay: 1_000_000_000))
        #expect(spec.TaskTemplate.Placement.Constraints == ["node.labels.zone==eu"])
        #expect(spec.TaskTemplate.Resources == SwarmAPI.Resources(Limits: SwarmAPI.ResourceAmounts(NanoCPUs: 1_500_000_000, MemoryBytes: 128 << 20),
                                                                  Reservations: SwarmAPI.ResourceAmounts(NanoCPUs: 250_000_000, MemoryBytes: 64 << 20)))
        #expect(spec.TaskTemplate.Networks == [SwarmAPI.NetworkAttachment(Target: "shop-net", Aliases: ["web", "www"])])
        #expect(spec.TaskTemplate.ForceUpdate == 4)
        #expect(spec.Mode.Replicated.Replicas == 3)
        #expect(spec.EndpointSpec.Ports == [SwarmAPI.PortConfig(Protocol: "tcp", TargetPort: 80, PublishedPort: 8080, PublishMode: "host")])
        var disabled = Self.workload()
        disabled.healthcheck = nil
        disabled.healthcheckDisabled = true
        disabled.restart = .no
        let off = SwarmServiceEngine.serviceSpec(disabled, configs: [], secrets: [], forceUpdate: 0)
        #expect(off.TaskTemplate.ContainerSpec.Healthcheck == SwarmAPI.Health(Test: ["NONE"]))
        #expect(off.TaskTemplate.RestartPolicy.Condition == "none")
    }

    @Test func configAndSecretNamesAreSafeBoundedAndChangeWithTheirContent() {
        let w = Self.workload()
        #expect(SwarmServiceEngine.objectName(w, "/etc/app/app.yml", digest: "0123456789abcdef") == "shop-web-0123456789ab-etc_app_app.yml")
        #expect(SwarmServiceEngine.objectName(w, "/etc/app/app.yml", digest: "fedcba9876543210") == "shop-web-fedcba987654-etc_app_app.yml")
        #expect(SwarmServiceEngine.objectName(w, "/" + String(repeating: "x", count: 100), digest: "0123456789abcdef").count == 64)
    }

    static func service(replicas: Int = 1, condition: String? = nil, check: Bool = false) throws -> SwarmAPI.Service {
        let json = """
            {"ID": "svc1", "Version": {"Index": 7},
             "Spec": {"Name": "shop-web", "Labels": {"dev.devstack.spec-hash": "h1"}, "Mode": {"Replicated": {"Replicas": \(replicas)}},
                      "TaskTemplate": {\(condition.map { "\"RestartPolicy\": {\"Condition\": \"\($0)\"}," } ?? "")
                                       "ContainerSpec": {"Image": "busybox", \(check ? "\"Healthcheck\": {\"Test\": [\"CMD\", \"true\"]}," : "") "Labels": {}}}}}
            """
        return try JSONDecoder().decode(SwarmAPI.Service.self, from: Data(json.utf8))
    }

    static func task(_ id: String, _ state: String, desired: String = "running", hash: String = "h1", node: String = "n1", at: String = "2026-01-01T00:00:0\(0)Z",
                     err: String? = nil, exit: Int? = nil) throws -> SwarmAPI.Task {
        let json = """
            {"ID": "\(id)", "ServiceID": "svc1", "NodeID": "\(node)", "DesiredState": "\(desired)", "UpdatedAt": "\(at)",
             "Status": {"State": "\(state)" \(err.map { ", \"Err\": \"\($0)\"" } ?? "") \(exit.map { ", \"ContainerStatus\": {\"ExitCode\": \($0)}" } ?? "")},
             "Spec": {"ContainerSpec": {"Labels": {"dev.devstack.spec-hash": "\(hash)"}}}}
            """
        return try JSONDecoder().decode(SwarmAPI.Task.self, from: Data(json.utf8))
    }

    @Test func tasksBecomeTheStateThePlannerReadsAndTheCountsStatusShows() throws {
        let nodes = ["n1": "box-a", "n2": "box-b"]
        // A task was killed and replaced: running, with the ending counted.
        let healed = SwarmServiceEngine.status(try Self.service(), tasks: [
            try Self.task("t1", "failed", desired: "shutdown", at: "2026-01-01T00:00:01Z", err: "task: non-zero exit (137)", exit: 137),
            try Self.task("t2", "running", node: "n2", at: "2026-01-01T00:00:03Z"),
        ], nodes: nodes)
        #expect(healed.0 == .running)
        #expect(healed.2 == TaskCounts(running: 1, desired: 1, replaced: 1, lastEnding: "non-zero exit (137)", nodes: ["box-b"]))
        // Killed, and the swarm will start another after its delay: being replaced, not exited.
        let waiting = SwarmServiceEngine.status(try Self.service(condition: "any"), tasks: [
            try Self.task("t1", "failed", desired: "shutdown", err: "task: non-zero exit (137)", exit: 137),
        ], nodes: nodes)
        #expect(waiting.0 == .restarting)
        // Condition "none": the last task's end is the service's.
        let done = SwarmServiceEngine.status(try Self.service(condition: "none"), tasks: [try Self.task("t1", "complete", desired: "shutdown", exit: 0)], nodes: nodes)
        #expect(done.0 == .exited(code: 0))
        // A running task of the previous spec does not count; the new one is still starting.
        let updating = SwarmServiceEngine.status(try Self.service(check: true), tasks: [
            try Self.task("old", "running", hash: "h0"), try Self.task("new", "starting"),
        ], nodes: nodes)
        #expect(updating.0 == .restarting)
        #expect(updating.1 == .starting)
        #expect(updating.2.running == 0)
        // A task with a health check runs only once healthy.
        let healthy = SwarmServiceEngine.status(try Self.service(check: true), tasks: [try Self.task("t1", "running")], nodes: nodes)
        #expect(healthy.0 == .running && healthy.1 == .healthy)
    }

    @Test func nodesThatShareAHostnameAreToldApartByTheirID() throws {
        let nodes = try JSONDecoder().decode([SwarmAPI.Node].self, from: Data("""
            [{"ID": "aaaaaaaaaaaaaaaa1", "Description": {"Hostname": "vm"}}, {"ID": "bbbbbbbbbbbbbbbb2", "Description": {"Hostname": "vm"}},
             {"ID": "cccccccccccccccc3", "Description": {"Hostname": "edge"}}]
            """.utf8))
        #expect(SwarmServiceEngine.nodeNames(nodes) == ["aaaaaaaaaaaaaaaa1": "vm aaaaaaaaaaaa", "bbbbbbbbbbbbbbbb2": "vm bbbbbbbbbbbb", "cccccccccccccccc3": "edge"])
    }
}
