import Application
import Foundation
import Testing
import TestSupport

/// The swarm engine on a real two-node swarm (TestSwarm: this machine's dockerd as manager, a
/// second dockerd in its own network namespace as worker). It makes the shared dockerd a swarm
/// manager for a while, so scripts/test runs it in a phase of its own, with DEVSTACK_SWARM_TESTS=1.
@Suite(.serialized, .enabled(if: ProcessInfo.processInfo.environment["DEVSTACK_SWARM_TESTS"] == "1",
                             "makes the host's dockerd a swarm manager; scripts/test runs it with DEVSTACK_SWARM_TESTS=1"))
struct SwarmTests {
    static func services(mode: String) -> String {
        """
        "web": { "image": "devstack/busybox:1.36", "command": ["sleep", "3600"], "restart": "always",
                 "env": { "MODE": "\(mode)", "TOKEN": { "secret": "token" } }, "configs": { "/etc/greeting.txt": "greeting" },
                 "deploy": { "placement": { "constraints": ["node.labels.devstack-role==worker"] } } },
        "api": { "image": "devstack/busybox:1.36", "command": ["sh", "-c", "echo api-ready; exec sleep 3600"], "restart": "always",
                 "healthcheck": { "command": ["true"], "interval": "1s" },
                 "deploy": { "replicas": 2, "placement": { "constraints": ["node.role==manager"] } } }
        """
    }

    static let settings = """
        "engine": { "kind": "swarm" }, "secrets": { "token": { "fromEnv": "SWARM_TEST_TOKEN" } },
        "configs": { "greeting": { "content": "hello from a swarm config\\n" } },
        "seeds": { "marker": { "service": "api", "exec": ["sh", "-c", "echo seeded > /tmp/seeded"] },
                   "lookup": { "service": "api", "run": ["nslookup", "web"], "after": ["marker"] } },
        "tasks": { "probe": { "service": "api", "exec": ["sh", "-c", "echo exec-on-$WHERE"], "env": { "WHERE": "swarm" } },
                   "reach": { "service": "api", "run": ["sh", "-c", "nslookup web >/dev/null && echo web-resolves"] } },
        """

    @Test func servicesRunWhereTheyArePlacedAreHealedUpdatedRolledBackAndRemoved() async throws {
        guard Docker.require() else { return }
        let swarm = try TestSwarm()
        defer { swarm.stop() }
        let f = EngineFixture("swarm")
        let secret = ["SWARM_TEST_TOKEN": "s3cret-\(f.name)"]
        defer { f.devstack(["down"], environment: secret); try? FileManager.default.removeItem(atPath: f.dir) }
        // Someone else's service and config on the same swarm, named like ours: never touched.
        Docker.run(["service", "create", "--detach", "--name", f.container("bystander"), "devstack/busybox:1.36", "sleep", "3600"])
        CLI.run("bash", ["-c", "echo theirs | docker config create \(f.container("theirs")) -"])
        defer { Docker.run(["service", "rm", f.container("bystander")]); Docker.run(["config", "rm", f.container("theirs")]) }

        f.write(Self.services(mode: "one"), extra: Self.settings)
        let applied = f.devstack(["apply", f.file], environment: secret)
        #expect(applied.code == 0, "\(applied.output)")
        #expect(swarm.nodes(of: f.container("web")) == [swarm.workerNode], "web is constrained to the worker")
        // Seeds ran on the manager's node: in an api task, and in a one-off container on the overlay.
        let seeds = f.devstack(["status"], environment: secret).stdout.split(separator: "\n").filter { $0.hasPrefix("lookup ") || $0.hasPrefix("marker ") }
        #expect(seeds.map { $0.split(separator: " ", omittingEmptySubsequences: true).prefix(3).joined(separator: " ") } == ["lookup succeeded 1", "marker succeeded 1"], "\(seeds)")
        let manager = Docker.run(["info", "-f", "{{.Swarm.NodeID}}"]).stdout.trimmingCharacters(in: .whitespacesAndNewlines)
        #expect(swarm.nodes(of: f.container("api")) == [manager, manager], "api's two replicas are constrained to the manager")
        let webTask = swarm.onWorker(["ps", "-q", "--filter", "name=\(f.container("web"))."]).stdout.trimmingCharacters(in: .whitespacesAndNewlines)
        let inside = swarm.onWorker(["exec", webTask, "sh", "-c", "cat /etc/greeting.txt /run/secrets/token; echo; echo $MODE"])
        #expect(inside.stdout == "hello from a swarm config\ns3cret-\(f.name)\none\n", "\(inside.output)")

        // One field of web: only web changes, in place (same service, api's tasks untouched).
        let webID = Docker.run(["service", "inspect", "-f", "{{.ID}}", f.container("web")]).stdout
        let apiTasks = Docker.run(["service", "ps", "-q", "--filter", "desired-state=running", f.container("api")]).stdout
        f.write(Self.services(mode: "two"), extra: Self.settings)
        let diff = f.devstack(["diff", "-f", f.file], environment: secret)
        #expect(diff.stdout.hasPrefix("~ recreate web (spec changed: env.MODE)\n"), "\(diff.output)")
        #expect(f.devstack(["apply", f.file], environment: secret).code == 0)
        #expect(Docker.run(["service", "inspect", "-f", "{{.ID}}", f.container("web")]).stdout == webID)
        #expect(Docker.run(["service", "ps", "-q", "--filter", "desired-state=running", f.container("api")]).stdout == apiTasks)
        #expect(Self.mode(f) == "MODE=two")

        // A killed task: the swarm replaces it, and status says so.
        let killed = swarm.onWorker(["ps", "-q", "--filter", "name=\(f.container("web"))."]).stdout.trimmingCharacters(in: .whitespacesAndNewlines)
        #expect(swarm.onWorker(["kill", killed]).code == 0)
        var web = ""
        let deadline = Date().addingTimeInterval(30)
        repeat {
            try await Task.sleep(for: .milliseconds(500))
            web = f.devstack(["status"], environment: secret).stdout.split(separator: "\n").first { $0.hasPrefix("web ") }.map(String.init) ?? ""
        } while !web.contains("1/1 running") && Date() < deadline
        // Both nodes have this machine's hostname, so the node's ID follows it.
        #expect(web.hasPrefix("web      running "), "\(web)")
        #expect(web.hasSuffix("1/1 running on \(Self.hostname(swarm)) \(swarm.workerNode.prefix(12)); 1 replaced (last: non-zero exit (137))"), "\(web)")

        // Rollback: the previous spec, on the same service.
        #expect(f.devstack(["rollback", "1"], environment: secret).code == 0)
        #expect(Self.mode(f) == "MODE=one")
        #expect(Docker.run(["service", "inspect", "-f", "{{.ID}}", f.container("web")]).stdout == webID)

        // What a task's node holds is refused in one line; what the manager reaches works.
        let snapshot = f.devstack(["snapshot", "save", "before"], environment: secret)
        #expect(snapshot.code == 1)
        #expect(snapshot.stderr == "devstack: error: a snapshot is not supported on the swarm engine, where \(f.name) runs: a volume lives on the node that ran its task, which the manager's API does not reach; nothing was changed\n", "\(snapshot.output)")
        let onWorker = f.devstack(["exec", "web", "--", "true"], environment: secret)
        #expect(onWorker.code == 1)
        #expect(onWorker.stderr == "devstack: error: \(f.container("web")) runs no task on the manager's node; the engine's API reaches only that node's containers (run it with DOCKER_HOST at the node that runs the task)\n", "\(onWorker.output)")
        let onManager = f.devstack(["exec", "api", "--", "sh", "-c", "echo from $HOSTNAME"], environment: secret)
        #expect(onManager.code == 0 && onManager.stdout.hasPrefix("from "), "\(onManager.output)")
        // The same environment on one Docker engine would leave the swarm's services behind.
        CLI.write("{\"name\": \"\(f.name)\", \"services\": {\"web\": {\"image\": \"devstack/busybox:1.36\"}}}", to: f.dir + "/docker.json")
        let moved = f.devstack(["apply", f.dir + "/docker.json", "--engine", "docker"], environment: secret)
        #expect(moved.code == 2)
        #expect(moved.stderr == "devstack: error: \(f.name) runs on the swarm engine (2 services), and this apply asks for the docker engine: run devstack down --env \(f.name) first, then apply; nothing was changed\n", "\(moved.output)")
        // Tasks: in the api task's container, and in a one-off container on the manager's node
        // that joins the attachable overlay, where web (on the worker) resolves.
        let probe = f.devstack(["run", "probe"], environment: secret)
        #expect(probe.stdout == "exec-on-swarm\n", "\(probe.output)")
        let reach = f.devstack(["run", "reach"], environment: secret)
        #expect(reach.stdout == "web-resolves\n", "\(reach.output)")

        // The service's output, every task's, through the manager.
        let logs = f.devstack(["logs", "api"], environment: secret)
        #expect(logs.code == 0)
        #expect(logs.stdout.components(separatedBy: "\n").filter { $0.hasSuffix("api-ready") }.count == 2, "\(logs.output)")

        // The dashboard's restart: new tasks for both replicas, once they run.
        let before = Set(Docker.run(["service", "ps", "-q", "--filter", "desired-state=running", f.container("api")]).stdout.split(separator: "\n"))
        try await RestartUseCase.run(workspace: try Workspace.open(path: f.state, access: .existing), environment: f.name, service: "api", sink: { _ in })
        let after = Set(Docker.run(["service", "ps", "-q", "--filter", "desired-state=running", f.container("api")]).stdout.split(separator: "\n"))
        #expect(before.count == 2 && after.count == 2 && before.isDisjoint(with: after), "\(before) → \(after)")
        #expect(Docker.run(["service", "ps", "--filter", "desired-state=running", "--format", "{{.CurrentState}}", f.container("api")]).stdout.split(separator: "\n").allSatisfy { $0.hasPrefix("Running") })

        // Down: our services, network, configs and secrets; nothing of anyone else's.
        #expect(f.devstack(["down"], environment: secret).code == 0)
        #expect(Docker.run(["service", "ls", "--filter", "label=dev.devstack.env=\(f.name)", "-q"]).stdout == "")
        #expect(Docker.run(["config", "ls", "--filter", "label=dev.devstack.env=\(f.name)", "-q"]).stdout == "")
        #expect(Docker.run(["secret", "ls", "--filter", "label=dev.devstack.env=\(f.name)", "-q"]).stdout == "")
        #expect(Docker.run(["network", "ls", "--filter", "label=dev.devstack.env=\(f.name)", "-q"]).stdout == "")
        #expect(Docker.run(["service", "inspect", "-f", "{{.Spec.Name}}", f.container("bystander")]).stdout == "\(f.container("bystander"))\n")
        #expect(Docker.run(["config", "inspect", "-f", "{{.Spec.Name}}", f.container("theirs")]).stdout == "\(f.container("theirs"))\n")
    }

    static func mode(_ f: EngineFixture) -> String {
        let env = Docker.run(["service", "inspect", "-f", "{{range .Spec.TaskTemplate.ContainerSpec.Env}}{{println .}}{{end}}", f.container("web")]).stdout
        return env.split(separator: "\n").first { $0.hasPrefix("MODE=") }.map(String.init) ?? ""
    }

    static func hostname(_ swarm: TestSwarm) -> String {
        Docker.run(["node", "inspect", "-f", "{{.Description.Hostname}}", swarm.workerNode]).stdout.trimmingCharacters(in: .whitespacesAndNewlines)
    }
}
