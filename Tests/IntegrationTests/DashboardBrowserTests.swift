import Foundation
import Testing
import TestSupport

/// The dashboard's live listener. The browser test itself (a killed container seen within 2 s)
/// is in LatencyTests, which runs on a quiet engine.
@Suite(.serialized) struct DashboardBrowserTests {
    static let screenshots = CLI.packageRoot.appendingPathComponent(".build/test-output/dashboard").path

    static func startUI(_ f: EngineFixture, _ arguments: [String] = ["ui"]) throws -> (BackgroundDevstack, String) {
        let ui = try BackgroundDevstack(f, arguments)
        #expect(eventually(15) { ui.output.contains("dashboard: http://127.0.0.1:") }, "\(ui.output)")
        let url = ui.output.split(separator: "\n").first { $0.hasPrefix("dashboard: ") }.map { String($0.dropFirst("dashboard: ".count)) } ?? ""
        return (ui, url)
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
