import DockerEngine
import Foundation
import Reconciler
import Testing
import TestSupport

/// `devstack watch` on the real engine: edits reach the container, deletions too, a Dockerfile
/// edit rebuilds exactly its service. (Latency and batching: LatencyTests.)
@Suite(.serialized) struct WatchTests {
    static let engine = DockerContainerEngine(client: DockerClient(socketPath: "/var/run/docker.sock"))

    /// A file's contents in a container, read through the archive API (a few milliseconds, so
    /// the latency measured is the watch's, not the probe's); nil when it is not there.
    static func contents(_ container: String, _ path: String) async -> Data? {
        guard let archive = try? await engine.getArchive(container, path: path), archive.count > 512 else { return nil }
        let size = Int(String(decoding: archive[124..<135], as: UTF8.self).trimmingCharacters(in: .whitespaces), radix: 8) ?? 0
        return archive[512..<(512 + size)]
    }

    static func watched(_ f: EngineFixture, rules: String, extraServices: String = "") {
        try? FileManager.default.createDirectory(atPath: f.dir + "/src", withIntermediateDirectories: true)
        CLI.write("first\n", to: f.dir + "/src/a.txt")
        f.write("""
        "web": {"image": "devstack/busybox:1.36", "pullPolicy": "never", "command": ["sleep", "3600"], "develop": {"watch": [\(rules)]}}\(extraServices)
        """)
    }

    static func startWatch(_ f: EngineFixture) throws -> BackgroundDevstack {
        let watch = try BackgroundDevstack(f, ["watch"])
        #expect(eventually(10) { watch.output.contains("watching \(f.dir)") }, "\(watch.output)")
        return watch
    }

    @Test func editsAndDeletionsReachTheContainer() async throws {
        guard Docker.require() else { return }
        let f = EngineFixture("watch")
        defer { f.tearDown() }
        Self.watched(f, rules: #"{"path": "src", "target": "/app", "action": "sync", "ignore": ["*.tmp", "cache/"]}"#)
        #expect(f.devstack(["apply", f.file]).code == 0)
        let watch = try Self.startWatch(f)
        defer { _ = watch.stop() }
        let web = f.container("web")

        // An edit arrives (its latency is measured in LatencyTests, on a quiet engine).
        let text = Data("edited \(UUID().uuidString)\n".utf8)
        try text.write(to: URL(fileURLWithPath: f.dir + "/src/a.txt"))
        #expect(await eventuallyAsync(10) { await Self.contents(web, "/app/a.txt") == text })

        // Ignored paths stay out; a deletion is carried over.
        CLI.write("scratch", to: f.dir + "/src/notes.tmp")
        try FileManager.default.createDirectory(atPath: f.dir + "/src/cache", withIntermediateDirectories: true)
        CLI.write("cached", to: f.dir + "/src/cache/x")
        CLI.write("kept", to: f.dir + "/src/b.txt")
        #expect(await eventuallyAsync(5) { await Self.contents(web, "/app/b.txt") == Data("kept".utf8) })
        #expect(await Self.contents(web, "/app/notes.tmp") == nil)
        #expect(await Self.contents(web, "/app/cache/x") == nil)
        try FileManager.default.removeItem(atPath: f.dir + "/src/b.txt")
        #expect(await eventuallyAsync(5) { await Self.contents(web, "/app/b.txt") == nil })

        // One line per batch: the edit, b.txt (the deletion says "deleted"). A thousand files in
        // one batch is in LatencyTests: where a batch ends depends on the writer not pausing.
        #expect(watch.output.components(separatedBy: "web: synced").count - 1 == 1 + 1, "\(watch.output)")
        #expect(watch.output.contains("web: deleted 1"))
    }

    @Test func editingTheDockerfileRebuildsAndRecreatesExactlyThatService() async throws {
        guard Docker.require() else { return }
        let f = EngineFixture("rebuild")
        defer { f.tearDown() }
        try FileManager.default.createDirectory(atPath: f.dir + "/app", withIntermediateDirectories: true)
        CLI.write("FROM devstack/busybox:1.36\nRUN echo v1 > /version\nCMD [\"sleep\", \"3600\"]\n", to: f.dir + "/app/Dockerfile")
        Self.watched(f, rules: #"{"path": "src", "target": "/app", "action": "sync+restart"}"#, extraServices: """
        , "app": {"build": "app", "develop": {"watch": [{"path": "app", "action": "rebuild"}]}}
        """)
        #expect(f.devstack(["apply", f.file]).code == 0)
        let appBefore = f.inspect(f.container("app"), "{{.Id}}")
        let webStarted = f.inspect(f.container("web"), "{{.State.StartedAt}}")
        let watch = try Self.startWatch(f)
        defer { _ = watch.stop() }

        CLI.write("FROM devstack/busybox:1.36\nRUN echo v2 > /version\nCMD [\"sleep\", \"3600\"]\n", to: f.dir + "/app/Dockerfile")
        #expect(await eventuallyAsync(60) { watch.output.contains("app: rebuilt and recreated") }, "\(watch.output)")
        #expect(f.inspect(f.container("app"), "{{.Id}}") != appBefore)
        #expect(Docker.run(["exec", f.container("app"), "cat", "/version"]).stdout == "v2\n")
        // web was neither recreated nor restarted by the rebuild.
        #expect(f.inspect(f.container("web"), "{{.State.StartedAt}}") == webStarted)

        // sync+restart: the file lands, then the container restarts (same container, new start).
        CLI.write("second\n", to: f.dir + "/src/a.txt")
        #expect(await eventuallyAsync(30) { watch.output.contains("web: synced 1 file, restarted") }, "\(watch.output)")
        #expect(f.inspect(f.container("web"), "{{.State.StartedAt}}") != webStarted)
        #expect(await Self.contents(f.container("web"), "/app/a.txt") == Data("second\n".utf8))
        #expect(f.devstack(["history"]).stdout.split(separator: "\n").count == 2, "a rebuild records no revision")
    }
}

/// Polls an async `condition` until it holds or `seconds` pass.
func eventuallyAsync(_ seconds: Double, _ condition: () async -> Bool) async -> Bool {
    let deadline = Date().addingTimeInterval(seconds)
    while Date() < deadline {
        if await condition() { return true }
        try? await Task.sleep(for: .milliseconds(100))
    }
    return await condition()
}
