import Application
import EnvSpec
import Foundation
import Hummingbird
import Logging
import NIOCore
import Reconciler
import StateStore

/// `devstack ui`: the dashboard's web server. Every page and action calls the same use cases as
/// the CLI; this file only routes and renders.
public struct DashboardServer: Sendable {
    public var workspace: Workspace
    public var environment: String
    public var access: DashboardAccess
    public var host: String
    public var port: Int
    public var settings: ConvergeSettings
    let jobs = JobBoard()
    let statusCache = StatusCache()

    public init(workspace: Workspace, environment: String, access: DashboardAccess = DashboardAccess(), host: String = "127.0.0.1", port: Int = 0,
                settings: ConvergeSettings = ConvergeSettings()) {
        self.workspace = workspace
        self.environment = environment
        self.access = access
        self.host = host
        self.port = port
        self.settings = settings
    }

    /// Serves until cancelled; `ready` gets the URL to open (with the token) once listening.
    public func run(ready: @escaping @Sendable (String) -> Void) async throws {
        var logger = Logger(label: "devstack-ui")
        // The server's own log stays quiet (a normal shutdown logs a cancellation as an error).
        logger.logLevel = .critical
        let access = self.access
        let host = self.host
        let app = Application(router: router(), configuration: .init(address: .hostname(host, port: port), serverName: nil),
                              onServerRunning: { channel in
                                  let port = channel.localAddress?.port ?? 0
                                  access.bound(port: port)
                                  let shown = host == "0.0.0.0" || host == "::" ? "127.0.0.1" : host
                                  ready("http://\(shown.contains(":") ? "[\(shown)]" : shown):\(port)/?token=\(access.token)")
                              }, logger: logger)
        try await app.runService(gracefulShutdownSignals: [])
    }

    public func router() -> Router<BasicRequestContext> {
        let router = Router(context: BasicRequestContext.self)
        router.add(middleware: AccessGuard(access: access))
        router.get("/assets/app.css") { _, _ in Self.asset(Assets.css, type: "text/css; charset=utf-8") }
        router.get("/assets/app.js") { _, _ in Self.asset(Assets.js, type: "text/javascript; charset=utf-8") }
        router.get("/") { _, _ in try await page("overview", "overview") { Pages.overview(try await status(maxAge: .seconds(1))) } }
        router.get("/graph") { _, _ in
            try await page("graph", "graph") {
                let report = try await status(maxAge: .seconds(1))
                let states = Dictionary(report.services.map { ($0.service, (state: $0.state, health: $0.health)) }, uniquingKeysWith: { a, _ in a })
                return Pages.graph(try workspace.revision(environment: environment).spec, states: states)
            }
        }
        router.get("/history") { request, _ in
            try await page("history", "history") {
                let before = request.uri.queryParameters.get("before").flatMap { Int($0) }
                let rows = try workspace.history(environment: environment, limit: Pages.historyPage, before: before)
                return Pages.history(rows, latest: try workspace.latestNumber(environment: environment))
            }
        }
        router.get("/diff") { request, _ in
            try await page("diff", "history") {
                guard let a = request.uri.queryParameters.get("a").flatMap({ Int($0) }), let b = request.uri.queryParameters.get("b").flatMap({ Int($0) }) else {
                    throw HTTPError(.badRequest, message: "pick two revisions: /diff?a=N&b=M")
                }
                let left = try workspace.revision(environment: environment, number: a), right = try workspace.revision(environment: environment, number: b)
                return Pages.diff(a, b, SpecDiff(from: left.spec, to: right.spec))
            }
        }
        router.get("/plan") { _, _ in
            try await page("plan", "plan") {
                let stored = try workspace.revision(environment: environment)
                return Pages.plan(try await workspace.plan(stored).plan, revision: stored.summary.number)
            }
        }
        router.get("/events") { request, _ in
            try await page("events", "events") {
                let service = request.uri.queryParameters.get("service").flatMap { $0.isEmpty ? nil : String($0) }
                let outcome = request.uri.queryParameters.get("outcome").flatMap { $0.isEmpty ? nil : String($0) }
                let events = try workspace.events(environment: environment, limit: 5000)
                    .filter { (service == nil || $0.service == service) && (outcome == nil || $0.outcome == outcome) }.suffix(500)
                return Pages.events(Array(events), service: service, outcome: outcome, services: try workspace.revision(environment: environment).spec.serviceNames)
            }
        }
        router.get("/data") { _, _ in
            try await page("data", "data") {
                let stored = try workspace.revision(environment: environment)
                return Pages.data(seeds: stored.spec.seeds.keys.sorted(), ledger: Array(try workspace.store.seedLedger(environment: environment).values),
                                  snapshots: try workspace.snapshots(environment: environment))
            }
        }
        router.get("/tasks") { _, _ in try await page("tasks", "tasks") { Pages.tasks(try TasksUseCase.list(workspace: workspace, environment: environment)) } }
        router.get("/logs/:service") { _, context in
            let service = try context.parameters.require("service")
            return try await page("logs", "overview") {
                _ = try LogsUseCase.services(workspace: workspace, environment: environment, requested: [service])
                return Pages.logs(service)
            }
        }
        addLive(router)
        addActions(router)
        return router
    }

    /// The overview's status, at most `maxAge` old (shared with whoever asks at the same time).
    func status(maxAge: Duration) async throws -> StatusUseCase.Report {
        let workspace = self.workspace, environment = self.environment
        return try await statusCache.report(maxAge: maxAge) { try await StatusUseCase.run(workspace: workspace, environment: environment) }
    }

    static func asset(_ text: String, type: String) -> Response {
        Response(status: .ok, headers: [.contentType: type, .cacheControl: "max-age=3600"], body: .init(byteBuffer: ByteBuffer(string: text)))
    }

    /// A page, or the use case's error as a page with its message (never a stack trace).
    func page(_ title: String, _ active: String, _ body: () async throws -> String) async throws -> Response {
        let html: String
        var status = HTTPResponse.Status.ok
        do {
            html = try await body()
        } catch let error as HTTPError {
            throw error
        } catch {
            // A refusal of what was asked (a service or revision that is not there) is the
            // request's fault; anything else the server's.
            if let refusal = error as? UseCaseError, refusal.invalidInput { status = .badRequest } else if error is StoreError { status = .notFound } else { status = .internalServerError }
            html = "<h1>\(HTML.escape(title))</h1><p class=\"badge bad\">\(HTML.escape("\(error)"))</p>"
        }
        let document = HTML.page(title: title, environment: environment, active: active, csrf: access.csrf, body: html)
        return Response(status: status, headers: [.contentType: "text/html; charset=utf-8"], body: .init(byteBuffer: ByteBuffer(string: document)))
    }
}
