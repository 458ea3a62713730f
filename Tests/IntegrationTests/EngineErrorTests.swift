import DockerEngine
import Foundation
import Reconciler
import Testing
import TestSupport

/// How engine failures are told apart on the real dockerd.
@Suite struct EngineErrorTests {
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
