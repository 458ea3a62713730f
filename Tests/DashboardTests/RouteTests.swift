import Application
import Dashboard
import EnvSpec
import Foundation
import HTTPTypes
import Hummingbird
import HummingbirdTesting
import StateStore
import Testing
import TestSupport

/// The dashboard's routes in-process (HummingbirdTesting), over a real SQLite store; pages that
/// show the engine's state ask the real dockerd, where this environment has no containers.
@Suite struct RouteTests {
    static let secretValue = "hunter2-\(UUID().uuidString.prefix(6))"

    /// A store with two revisions of a two-service environment, a seed, a secret and a task.
    static func server() throws -> DashboardServer {
        let dir = CLI.temporaryDirectory("devstack-ui")
        let store = try StateStore.open(path: dir + "/state.db")
        var spec = EnvironmentSpec(name: "ui-\(UUID().uuidString.prefix(6).lowercased())")
        var db = ServiceSpec(image: "devstack/busybox:1.36")
        db.env = ["PASSWORD": .secret("db-password")]
        db.volumes = [MountSpec(type: .volume, source: "data", target: "/data")]
        var web = ServiceSpec(image: "devstack/busybox:1.36")
        web.dependsOn = ["db": .started]
        web.env = ["GREETING": .literal("hello")]
        spec.services = ["db": db, "web": web]
        spec.secrets = ["db-password": .environment("UI_TEST_SECRET")]
        spec.seeds = ["schema": SeedSpec(service: "db", action: .exec(["true"]))]
        spec.tasks = ["migrate": TaskSpec(service: "web", mode: .exec, command: ["./manage.py", "migrate"])]
        _ = try store.record(spec, meta: RevisionMeta(author: "ada", host: "laptop", message: "first <script>", source: .apply, projectDirectory: dir))
        spec.services["web"]!.env["GREETING"] = .literal("bonjour")
        _ = try store.record(spec, meta: RevisionMeta(author: "ada", host: "laptop", message: "second", source: .apply, projectDirectory: dir))
        setenv("UI_TEST_SECRET", secretValue, 1)
        return DashboardServer(workspace: Workspace(store: store, path: dir + "/state.db"), environment: spec.name,
                               access: DashboardAccess(token: "tok", csrf: "csrf"))
    }

    static let cookie: HTTPFields = [.cookie: "devstack_token=tok"]
    static func post(origin: String? = "http://localhost", csrf: String? = "csrf") -> HTTPFields {
        var fields: HTTPFields = [.cookie: "devstack_token=tok", .contentType: "application/x-www-form-urlencoded"]
        if let origin { fields[.origin] = origin }
        if let csrf { fields[HTTPField.Name("X-CSRF-Token")!] = csrf }
        return fields
    }

    @Test func withoutTheTokenNothingIsServedAndTheTokenMovesIntoACookie() async throws {
        let app = Application(router: try Self.server().router())
        try await app.test(.router) { client in
            for path in ["/", "/history", "/assets/app.js", "/live/overview"] {
                try await client.execute(uri: path, method: .get) { #expect($0.status == .unauthorized) }
            }
            try await client.execute(uri: "/", method: .get, headers: [.cookie: "devstack_token=wrong"]) { #expect($0.status == .unauthorized) }
            try await client.execute(uri: "/history?token=tok", method: .get) { response in
                #expect(response.status == .seeOther)
                #expect(response.headers[.location] == "/history")
                #expect(response.headers[.setCookie] == "devstack_token=tok; Path=/; HttpOnly; SameSite=Strict")
            }
            try await client.execute(uri: "/history", method: .get, headers: Self.cookie) { response in
                #expect(response.status == .ok)
                #expect(response.headers[.contentSecurityPolicy]?.contains("default-src 'self'") == true)
                #expect(response.headers[HTTPField.Name("X-Frame-Options")!] == "DENY")
            }
        }
    }

    @Test func changesNeedOurOriginAndTheCSRFToken() async throws {
        let app = Application(router: try Self.server().router())
        let body = ByteBuffer(string: "service=web")
        try await app.test(.router) { client in
            try await client.execute(uri: "/actions/restart", method: .post, headers: Self.post(origin: nil), body: body) { #expect($0.status == .forbidden) }
            try await client.execute(uri: "/actions/restart", method: .post, headers: Self.post(origin: "http://evil.example"), body: body) { #expect($0.status == .forbidden) }
            try await client.execute(uri: "/actions/restart", method: .post, headers: Self.post(origin: "http://localhost.evil.example"), body: body) { #expect($0.status == .forbidden) }
            try await client.execute(uri: "/actions/restart", method: .post, headers: Self.post(csrf: nil), body: body) { #expect($0.status == .forbidden) }
            try await client.execute(uri: "/actions/restart", method: .post, headers: Self.post(csrf: "wrong"), body: body) { response in
                #expect(response.status == .forbidden)
                #expect(String(buffer: response.body) == "refused: missing or wrong CSRF token\n")
            }
            // Through every check: the job runs and fails, because web has no container.
            let id = try await client.execute(uri: "/actions/restart", method: .post, headers: Self.post(), body: body) { response -> String in
                #expect(response.status == .accepted)
                let object = try JSONSerialization.jsonObject(with: Data(buffer: response.body)) as? [String: String]
                return object?["job"] ?? ""
            }
            try await client.execute(uri: "/live/jobs/\(id)", method: .get, headers: Self.cookie) { response in
                #expect(response.headers[.contentType] == "text/event-stream")
                let text = String(buffer: response.body)
                #expect(text.contains("event: done\ndata: \"failed: web has no container: apply the environment first\""), "\(text)")
            }
            try await client.execute(uri: "/live/jobs/nope", method: .get, headers: Self.cookie) { #expect($0.status == .notFound) }
        }
    }

    @Test func actionsRefuseWhatTheEnvironmentDoesNotHave() async throws {
        let app = Application(router: try Self.server().router())
        try await app.test(.router) { client in
            for (action, form) in [("restart", "service=nope"), ("seed", "seed=nope"), ("snapshot", "name=Bad Name"), ("rollback", "revision=99"), ("rollback", "revision=x")] {
                try await client.execute(uri: "/actions/\(action)", method: .post, headers: Self.post(), body: ByteBuffer(string: form)) { response in
                    #expect(response.status == .badRequest, "\(action) \(form)")
                }
            }
        }
    }

    @Test func everyPageRendersWithTheEnvironmentsDataAndNoSecretValue() async throws {
        let server = try Self.server()
        let app = Application(router: server.router())
        try await app.test(.router) { client in
            func page(_ uri: String, status: HTTPResponse.Status = .ok) async throws -> String {
                try await client.execute(uri: uri, method: .get, headers: Self.cookie) { response in
                    #expect(response.status == status, "\(uri)")
                    return String(buffer: response.body)
                }
            }
            let overview = try await page("/")
            #expect(overview.contains("<table id=\"services\">"))
            #expect(overview.contains("/logs/web") && overview.contains("/logs/db"))
            #expect(overview.contains("<meta name=\"csrf\" content=\"csrf\">"))
            let graph = try await page("/graph")
            #expect(graph.contains("<g class=\"node\" data-service=\"db\" data-state=\"missing\">"))
            #expect(graph.contains("<title>web needs db started</title>"))
            let history = try await page("/history")
            #expect(history.contains("first &lt;script&gt;"))
            #expect(!history.contains("first <script>"))
            #expect(history.contains("data-revision=\"1\">roll back here"))
            #expect(try await page("/history?before=2").contains("value=\"1\"") == true)
            #expect(try await page("/history?before=2").contains("value=\"2\"") == false)
            let diff = try await page("/diff?a=1&b=2")
            #expect(diff.contains("<div>env.GREETING</div><div class=\"old\">&quot;hello&quot;</div><div class=\"new\">&quot;bonjour&quot;</div>"), "\(diff)")
            _ = try await page("/diff?a=1", status: .badRequest)
            #expect(try await page("/diff?a=1&b=99", status: .notFound).contains("revision 99"))
            let plan = try await page("/plan")
            #expect(plan.contains("no existing container"))
            _ = try await page("/events?service=web&outcome=failed")
            let data = try await page("/data")
            #expect(data.contains("data-seed=\"schema\"") && data.contains("never run"))
            #expect(try await page("/tasks").contains("devstack run migrate"))
            #expect(try await page("/logs/web").contains("data-service=\"web\""))
            _ = try await page("/logs/nope", status: .badRequest)
            #expect(try await page("/assets/app.css").contains("--accent"))
            for text in [overview, graph, history, diff, plan, data] { #expect(!text.contains(Self.secretValue)) }
        }
    }

    @Test func theAccessRulesAsAPureDecision() {
        let access = DashboardAccess(token: "tok", csrf: "csrf")
        func verdict(_ method: HTTPRequest.Method = .get, host: String? = "127.0.0.1:8080", query: String? = nil, cookie: String? = "tok",
                     origin: String? = nil, csrf: String? = nil) -> DashboardAccess.Verdict {
            access.verdict(method: method, authority: host, path: "/history", queryToken: query, cookieToken: cookie, origin: origin, csrf: csrf)
        }
        #expect(verdict() == .allow)
        #expect(verdict(host: "localhost") == .allow)
        #expect(verdict(host: "[::1]:8080") == .allow)
        for host in ["evil.example", "evil.example:8080", "127.0.0.1.evil.example", "localhost.:8080", nil] as [String?] {
            #expect(verdict(host: host) == .refuse(.forbidden, "refused: the Host header names another site (a DNS rebinding attempt?)"), "\(host ?? "nil")")
        }
        #expect(verdict(cookie: nil) == .refuse(.unauthorized, "refused: open the URL devstack ui printed (it carries the access token)"))
        #expect(verdict(query: "tok", cookie: nil) == .storeCookie(redirect: "/history"))
        #expect(verdict(.post, origin: "http://127.0.0.1:8080", csrf: "csrf") == .allow)
        #expect(verdict(.post, origin: "https://127.0.0.1:8080", csrf: "csrf") == .refuse(.forbidden, "refused: a change must come from a page of this dashboard (Origin)"))
        #expect(verdict(.post, origin: "null", csrf: "csrf") == .refuse(.forbidden, "refused: a change must come from a page of this dashboard (Origin)"))
        #expect(verdict(.post, origin: "http://127.0.0.1:8080", csrf: "csrF") == .refuse(.forbidden, "refused: missing or wrong CSRF token"))
    }
}
