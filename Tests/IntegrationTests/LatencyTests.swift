import Foundation
import Testing
import TestSupport

/// Tests that measure how quickly something is seen: an edit inside the container (watch; and
/// a thousand files in one batch, which holds only while the writer does not pause), a killed
/// container on an open page (the dashboard in headless Chromium). Under the other suites'
/// load (gigabyte snapshots, image builds) the engine itself takes seconds per call, so
/// scripts/test runs these in a phase of their own, with DEVSTACK_LATENCY_TESTS=1.
@Suite(.serialized, .enabled(if: ProcessInfo.processInfo.environment["DEVSTACK_LATENCY_TESTS"] == "1",
                             "measures latency on a quiet engine; scripts/test runs it with DEVSTACK_LATENCY_TESTS=1"))
struct LatencyTests {
    @Test func anEditIsInsideTheContainerWithinASecondAndAThousandFilesGoInOneBatch() async throws {
        guard Docker.require() else { return }
        let f = EngineFixture("watchlat")
        defer { f.tearDown() }
        WatchTests.watched(f, rules: #"{"path": "src", "target": "/app", "action": "sync"}"#)
        #expect(f.devstack(["apply", f.file]).code == 0)
        let watch = try WatchTests.startWatch(f)
        defer { _ = watch.stop() }
        let web = f.container("web")
        var latencies: [Double] = []
        for i in 0..<20 {
            let text = Data("edit \(i) \(UUID().uuidString)\n".utf8)
            let started = Date()
            try text.write(to: URL(fileURLWithPath: f.dir + "/src/a.txt"))
            while await WatchTests.contents(web, "/app/a.txt") != text, Date().timeIntervalSince(started) < 10 { try await Task.sleep(for: .milliseconds(5)) }
            latencies.append(Date().timeIntervalSince(started))
        }
        let median = latencies.sorted()[latencies.count / 2]
        print("watch: sync latency over 20 edits: median \(Int(median * 1000)) ms, max \(Int(latencies.max()! * 1000)) ms")
        #expect(median < 1.0, "\(latencies)")
        #expect(watch.output.components(separatedBy: "web: synced 1 file").count - 1 == 20, "\(watch.output)")

        // A thousand files written at once: one batch, one line.
        try FileManager.default.createDirectory(atPath: f.dir + "/src/many", withIntermediateDirectories: true)
        for i in 0..<1000 { CLI.write("file \(i)", to: f.dir + "/src/many/f\(i).txt") }
        #expect(await eventuallyAsync(10) { watch.output.contains("web: synced 1000 files") }, "\(watch.output)")
        #expect(Docker.run(["exec", web, "sh", "-c", "ls /app/many | wc -l"]).stdout.trimmingCharacters(in: .whitespacesAndNewlines) == "1000")
        #expect(await WatchTests.contents(web, "/app/many/f999.txt") == Data("file 999".utf8))
        #expect(watch.output.components(separatedBy: "web: synced").count - 1 == 21, "\(watch.output)")
    }

    @Test func aKilledContainerShowsOnTheOpenPageAndARollbackFromThePageRecordsARevision() throws {
        guard Docker.require() else { return }
        let f = EngineFixture("ui")
        defer { f.tearDown() }
        let services = #""db": {"image": "devstack/busybox:1.36", "pullPolicy": "never", "command": ["sleep", "3600"]}, "web": {"image": "devstack/busybox:1.36", "pullPolicy": "never", "command": ["sleep", "3600"], "dependsOn": ["db"], "env": {"V": "1"}}"#
        f.write(services)
        #expect(f.devstack(["apply", f.file]).code == 0)
        f.write(services.replacingOccurrences(of: #""V": "1""#, with: #""V": "2""#))
        #expect(f.devstack(["apply", f.file]).code == 0)
        let (ui, url) = try DashboardBrowserTests.startUI(f)
        defer { _ = ui.stop() }

        let browser = CLI.run("/usr/bin/python3", [CLI.packageRoot.appendingPathComponent("Tests/Browser/dashboard.py").path, url,
                                                   "--services", "db,web", "--kill", "web:\(f.container("web"))", "--rollback", "1", "--shots", DashboardBrowserTests.screenshots])
        #expect(browser.code == 0, "\(browser.output)\n\(ui.output)")
        let result = (try? JSONSerialization.jsonObject(with: Data((browser.stdout.split(separator: "\n").last ?? "").utf8))) as? [String: Any] ?? [:]
        print("dashboard: \(browser.stdout.trimmingCharacters(in: .whitespacesAndNewlines))")
        #expect((result["kill_seen_after_ms"] as? Int ?? 99_999) <= 2000, "\(result)")
        #expect((result["state_after_kill"] as? String)?.hasPrefix("exited") == true, "\(result)")
        #expect(result["revision_after"] as? Int == 3, "\(result)")

        // The rollback went through the use case: a recorded revision, and the engine converged to it.
        let history = f.devstack(["history", "--json"]).stdout
        let revisions = (try? JSONSerialization.jsonObject(with: Data(history.utf8)) as? [[String: Any]]) ?? []
        #expect(revisions.first?["number"] as? Int == 3)
        #expect(revisions.first?["source"] as? String == "rollback")
        #expect(Docker.run(["exec", f.container("web"), "sh", "-c", "echo $V"]).stdout == "1\n")
        for page in ["overview", "overview-after-kill", "graph", "history", "diff", "plan", "events", "data", "tasks", "logs"] {
            #expect(FileManager.default.fileExists(atPath: "\(DashboardBrowserTests.screenshots)/\(page).png"), "\(page)")
        }
    }

}
