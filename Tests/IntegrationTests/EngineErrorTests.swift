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
        // A tag of its own, so that probes of tests running alongside are not counted.
        let image = "devstack-bind-probe-test:\(UUID().uuidString.prefix(8).lowercased())"
        #expect(Docker.run(["tag", "devstack/busybox:1.36", image]).code == 0)
        defer { Docker.run(["rmi", image]) }
        let since = String(Int(Date().timeIntervalSince1970) - 1)
        #expect(await engine.missingBindSources([present, absent], image: image) == [absent])
        #expect(await engine.missingBindSources([present, absent], image: image) == [absent])
        try FileManager.default.createDirectory(atPath: absent, withIntermediateDirectories: false)
        #expect(await engine.missingBindSources([present, absent], image: image) == [])
        #expect(await engine.missingBindSources([present, absent], image: image) == [])
        let until = String(Int(Date().timeIntervalSince1970) + 1)
        let probes = Docker.run(["events", "--since", since, "--until", until, "--filter", "event=create",
                                 "--filter", "label=dev.devstack.helper=bind-probe", "--filter", "image=\(image)", "--format", "{{json .Actor.Attributes}}"]).stdout
        // present once; absent three times: twice missing (refused, no container), then found.
        let created = probes.split(separator: "\n").filter { !$0.isEmpty }
        #expect(created.count == 2, "\(probes)")
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
