import DockerEngine
import Foundation
import Reconciler
import Testing
import TestSupport

/// How engine failures are told apart on the real dockerd.
@Suite struct EngineErrorTests {
    /// A bind source found on the engine's machine is probed once per process (a controller asks
    /// on every pass); a missing one every time, so that creating it is noticed.
    @Test func aBindSourceFoundIsNotProbedAgainAndAMissingOneIs() async throws {
        guard Docker.require() else { return }
        let engine = DockerContainerEngine(client: try DockerClient.fromEnvironment())
        let present = CLI.temporaryDirectory("devstack-bind")
        let absent = present + "-absent"
        defer { try? FileManager.default.removeItem(atPath: present); try? FileManager.default.removeItem(atPath: absent) }
        // A tag of its own, so that probes of tests running alongside are not counted. The
        // engine's events are watched live: its history keeps only the last 256, which a busy
        // engine running the other tests overwrites within seconds.
        let image = "devstack-bind-probe-test:\(UUID().uuidString.prefix(8).lowercased())"
        let docker = CLI.run("sh", ["-c", "command -v docker"]).stdout.trimmingCharacters(in: .whitespacesAndNewlines)
        let watcher = try BackgroundServer([docker, "events", "--filter", "image=\(image)", "--format", "{{.Type}} {{.Action}}"],
                                           log: present + "-events.log")
        defer { watcher.stop(); try? FileManager.default.removeItem(atPath: present + "-events.log"); Docker.run(["rmi", image]) }
        // The tag is the first event the watcher sees: once it has, the probes' will be seen too.
        var watching = false
        for _ in 0..<200 where !watching {
            if !watcher.output.contains("image tag") { #expect(Docker.run(["tag", "devstack/busybox:1.36", image]).code == 0) }
            try await Task.sleep(for: .milliseconds(100))
            watching = watcher.output.contains("image tag")
        }
        #expect(watching, "docker events never reported the tag: \(watcher.output)")
        #expect(await engine.missingBindSources([present, absent], image: image) == [absent])
        #expect(await engine.missingBindSources([present, absent], image: image) == [absent])
        try FileManager.default.createDirectory(atPath: absent, withIntermediateDirectories: false)
        #expect(await engine.missingBindSources([present, absent], image: image) == [])
        #expect(await engine.missingBindSources([present, absent], image: image) == [])
        // present once; absent three times: twice missing (refused, no container), then found.
        // Each probe's container is removed at once, so a destroy follows each create.
        var destroyed = 0
        for _ in 0..<100 where destroyed < 2 {
            try await Task.sleep(for: .milliseconds(100))
            destroyed = watcher.output.split(separator: "\n").filter { $0 == "container destroy" }.count
        }
        #expect(watcher.output.split(separator: "\n").filter { $0 == "container create" }.count == 2, "\(watcher.output)")
    }

    /// More slow operations at once than the connection pool holds (eight waits on a container
    /// that sleeps twelve seconds): a request queued behind them waits longer than the connect
    /// timeout and is still answered, rather than reported as an unreachable engine. Run alone,
    /// the ping waits about ten seconds for a connection (and fails without the resend); on a
    /// busy CI machine the waits may not all hold a connection yet when it is sent, so how long
    /// it waited is not asserted.
    @Test func aRequestWaitingBehindAFullPoolIsAnsweredNotUnreachable() async throws {
        guard Docker.require() else { return }
        let client = try DockerClient.fromEnvironment()
        let name = "devstack-pool-test-\(UUID().uuidString.prefix(8).lowercased())"
        #expect(Docker.run(["run", "-d", "--name", name, "--label", "dev.devstack.test=pool", "devstack/busybox:1.36", "sleep", "12"]).code == 0)
        defer { Docker.run(["rm", "-f", name]) }
        let waits = (0..<8).map { _ in Task { try await client.request(.POST, "/containers/\(name)/wait").status } }
        try await Task.sleep(for: .seconds(1))
        #expect(try await client.request(.GET, "/_ping").status == 200)
        for wait in waits { #expect(try await wait.value == 200) }
    }

    @Test func anAnswerOverTheLimitIsTooLargeNotUnreachableAndNotRetried() async throws {
        guard Docker.require() else { return }
        var client = try DockerClient.fromEnvironment()
        client.bodyLimit = 64   // any image list is longer
        do {
            _ = try await client.request(.GET, "/images/json")
            Issue.record("a 64-byte limit should not hold an image list")
        } catch let error as EngineError {
            #expect(error.kind == .bodyTooLarge)
            #expect(!error.isTransient)
            #expect(error.message == "the engine's answer to GET /images/json is over 64 bytes, more than devstack holds in memory")
        }
    }

    @Test func anAbsentSocketIsUnreachableAndTransient() async throws {
        let client = DockerClient(socketPath: "/nonexistent/docker.sock")
        do {
            _ = try await client.request(.GET, "/_ping")
            Issue.record("an absent socket answered")
        } catch let error as EngineError {
            #expect(error.kind == .unreachable)
            #expect(error.isTransient)
        }
    }
}
