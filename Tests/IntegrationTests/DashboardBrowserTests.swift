import Foundation
import Testing
import TestSupport

/// The dashboard in a real browser (headless Chromium through Selenium, Debian's packages), on a
/// real environment: Tests/Browser/dashboard.py does the clicking; this test sets the stage and
/// checks what the engine and the store say afterwards.
@Suite(.serialized) struct DashboardBrowserTests {
    static let screenshots = CLI.packageRoot.appendingPathComponent(".build/test-output/dashboard").path

    static func startUI(_ f: EngineFixture, _ arguments: [String] = ["ui"]) throws -> (BackgroundDevstack, String) {
        let ui = try BackgroundDevstack(f, arguments)
        #expect(eventually(15) { ui.output.contains("dashboard: http://127.0.0.1:") }, "\(ui.output)")
        let url = ui.output.split(separator: "\n").first { $0.hasPrefix("dashboard: ") }.map { String($0.dropFirst("dashboard: ".count)) } ?? ""
        return (ui, url)
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
        let (ui, url) = try Self.startUI(f)
        defer { _ = ui.stop() }

        let browser = CLI.run("/usr/bin/python3", [CLI.packageRoot.appendingPathComponent("Tests/Browser/dashboard.py").path, url,
                                                   "--services", "db,web", "--kill", "web:\(f.container("web"))", "--rollback", "1", "--shots", Self.screenshots])
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
            #expect(FileManager.default.fileExists(atPath: "\(Self.screenshots)/\(page).png"), "\(page)")
        }
    }

    /// Outside the browser, on the live listener (the one `controller --ui` serves beside its
    /// loop): a foreign Host and a cross-site POST are refused.
    @Test func theListenerRefusesForeignHostsAndCrossSitePosts() throws {
        guard Docker.require() else { return }
        let f = EngineFixture("uisec")
        defer { f.tearDown() }
        f.write(#""web": {"image": "devstack/busybox:1.36", "pullPolicy": "never", "command": ["sleep", "3600"]}"#)
        #expect(f.devstack(["apply", f.file, "--record-only"]).code == 0)
        let (ui, url) = try Self.startUI(f, ["controller", "--ui"])
        defer { _ = ui.stop() }
        let port = URL(string: url)?.port ?? 0
        let token = url.components(separatedBy: "token=").last ?? ""
        // http.client lets the request name any Host, as a DNS-rebinding page would.
        let script = """
        import http.client, sys
        def ask(method, host, headers):
            c = http.client.HTTPConnection("127.0.0.1", \(port))
            c.putrequest(method, "/actions/restart" if method == "POST" else "/", skip_host=True)
            c.putheader("Host", host)
            c.putheader("Cookie", "devstack_token=\(token)")
            for k, v in headers.items(): c.putheader(k, v)
            c.putheader("Content-Length", "11")
            c.endheaders(b"service=web")
            return c.getresponse().status
        print(ask("GET", "127.0.0.1:\(port)", {}), ask("GET", "evil.example:\(port)", {}), ask("GET", "localhost:\(port + 1)", {}),
              ask("POST", "127.0.0.1:\(port)", {"Origin": "http://evil.example", "X-CSRF-Token": "x"}),
              ask("POST", "127.0.0.1:\(port)", {"Origin": "http://127.0.0.1:\(port)", "X-CSRF-Token": "x"}))
        """
        let statuses = CLI.run("python3", ["-c", script])
        #expect(statuses.stdout == "200 403 403 403 403\n", "\(statuses.output)")
        let listening = try String(contentsOfFile: "/proc/net/tcp", encoding: .utf8)
        #expect(listening.contains(String(format: "0100007F:%04X", port)), "the dashboard listens on 127.0.0.1 only")
        #expect(ui.output.contains("holds \(f.name)"), "the controller runs beside it: \(ui.output)")
    }
}
