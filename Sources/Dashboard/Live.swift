import Application
import EnvSpec
import Foundation
import Hummingbird
import NIOCore
import Reconciler

/// Server-sent events: the overview as it changes, a service's log tail, an action's progress.
extension DashboardServer {
    func addLive(_ router: Router<BasicRequestContext>) {
        router.get("/live/overview") { _, _ in Self.eventStream(overviewUpdates()) }
        router.get("/live/logs/:service") { _, context in
            let service = try context.parameters.require("service")
            _ = try LogsUseCase.services(workspace: workspace, environment: environment, requested: [service])
            return Self.eventStream(logLines(service))
        }
        router.get("/live/jobs/:id") { _, context in
            let id = try context.parameters.require("id")
            guard jobs.exists(id) else { throw HTTPError(.notFound, message: "no such job") }
            return Self.eventStream(jobs.follow(id))
        }
    }

    static func message(_ event: String, _ json: String) -> String {
        "event: \(event)\ndata: \(json.replacingOccurrences(of: "\n", with: "\\n"))\n\n"
    }

    static func json<T: Encodable>(_ value: T) -> String {
        (try? String(decoding: JSONEncoder().encode(value), as: UTF8.self)) ?? "null"
    }

    static func eventStream(_ messages: AsyncStream<String>) -> Response {
        Response(status: .ok, headers: [.contentType: "text/event-stream", .cacheControl: "no-store"], body: ResponseBody { writer in
            for await message in messages { try await writer.write(ByteBuffer(string: message)) }
            try await writer.finish(nil)
        })
    }

    /// The overview again whenever the engine reports a container event or the store has a new
    /// revision or event; a comment every 15 s finds a closed page.
    func overviewUpdates() -> AsyncStream<String> {
        // true: an engine event, after which the state must change; false: a store change or the resync.
        let (triggers, trigger) = AsyncStream<Bool>.makeStream(bufferingPolicy: .bufferingNewest(1))
        let workspace = self.workspace, environment = self.environment
        let status = self.status
        return AsyncStream { continuation in
            let task = Task {
                await withTaskGroup(of: Void.self) { group in
                    group.addTask {
                        guard let engine = try? Workspace.liveEngine() else { return }
                        // A subscription that drops is renewed from where the first one began, so
                        // the engine replays what happened in between.
                        let since = Date().timeIntervalSince1970 - 1
                        while !Task.isCancelled {
                            do {
                                for try await _ in engine.events(environment: environment, since: since) { trigger.yield(true) }
                            } catch {
                                FileHandle.standardError.write(Data("devstack ui: engine events: \(error); subscribing again\n".utf8))
                            }
                            try? await Task.sleep(for: .seconds(1))
                        }
                    }
                    group.addTask {
                        var seen = (revision: -1, event: Int64(-1))
                        var ticks = 0
                        while !Task.isCancelled {
                            let revision = (try? workspace.latestNumber(environment: environment)) ?? nil
                            let event = (try? workspace.events(environment: environment, limit: 1).last?.id) ?? nil
                            let now = (revision ?? 0, event ?? 0)
                            ticks += 1
                            // A new revision or event at once; and every 10 s regardless, as a resync.
                            if now != seen || ticks % 10 == 0 { seen = now; trigger.yield(false) }
                            if ticks % 15 == 0 { continuation.yield(": keep-alive\n\n") }
                            try? await Task.sleep(for: .seconds(1))
                        }
                    }
                    group.addTask {
                        var first = true
                        var sent = "", sentStates: [String: String] = [:]
                        for await fromEngine in triggers {
                            // Events come in bursts (kill, die): one update for the burst. The first
                            // update may reuse the status the page was just rendered from.
                            if !first { try? await Task.sleep(for: .milliseconds(60)) }
                            // The engine announces a death before its container list shows it: after
                            // an engine event, look again (briefly) until a container's state moved.
                            let before = sentStates
                            for delay in fromEngine ? [0, 150, 300, 600] : [0] {
                                if delay > 0 { try? await Task.sleep(for: .milliseconds(delay)) }
                                guard let report = try? await status(first ? .seconds(1) : .zero) else { continue }
                                first = false
                                let message = Self.message("overview", Self.json(report))
                                if message != sent {
                                    sent = message
                                    sentStates = Dictionary(report.services.map { ($0.service, "\($0.state) \($0.health)") }, uniquingKeysWith: { a, _ in a })
                                    if case .terminated = continuation.yield(message) { return }
                                }
                                if sentStates != before { break }
                            }
                        }
                    }
                    await group.next()
                    group.cancelAll()
                }
            }
            continuation.onTermination = { _ in
                task.cancel()
                trigger.finish()
            }
        }
    }

    /// A service's output, the last 200 lines then new ones, secrets masked by the use case.
    func logLines(_ service: String) -> AsyncStream<String> {
        let workspace = self.workspace, environment = self.environment
        return AsyncStream { continuation in
            let task = Task {
                do {
                    try await LogsUseCase.run(workspace: workspace, environment: environment, services: [service], follow: true, tail: 200, since: nil) { _, line in
                        continuation.yield(Self.message("line", Self.json(line)))
                    }
                } catch {
                    continuation.yield(Self.message("line", Self.json("devstack: \(error)")))
                }
                continuation.finish()
            }
            continuation.onTermination = { _ in task.cancel() }
        }
    }
}

/// Actions run in the background; their progress lines are kept, in order, for the page that
/// follows them.
final class JobBoard: @unchecked Sendable {
    struct Job {
        var lines: [String] = []
        var done: String?
    }
    private let lock = NSLock()
    private var jobs: [String: Job] = [:]

    func exists(_ id: String) -> Bool { lock.withLock { jobs[id] != nil } }
    private func state(_ id: String) -> Job? { lock.withLock { jobs[id] } }

    func start(_ work: @escaping @Sendable (@escaping ProgressSink) async throws -> String) -> String {
        let id = UUID().uuidString.lowercased()
        lock.withLock { jobs[id] = Job() }
        let sink: ProgressSink = { [self] event in
            guard let line = JobBoard.line(event) else { return }
            lock.withLock { jobs[id]?.lines.append(line) }
        }
        Task {
            let outcome: String
            do { outcome = "done: " + (try await work(sink)) } catch { outcome = "failed: \(error)" }
            lock.withLock { jobs[id]?.done = outcome }
        }
        return id
    }

    func follow(_ id: String) -> AsyncStream<String> {
        AsyncStream { continuation in
            let task = Task {
                var sent = 0
                while !Task.isCancelled {
                    guard let job = self.state(id) else { break }
                    for line in job.lines.dropFirst(sent) { continuation.yield(DashboardServer.message("line", DashboardServer.json(line))) }
                    sent = job.lines.count
                    if let done = job.done {
                        continuation.yield(DashboardServer.message("done", DashboardServer.json(done)))
                        break
                    }
                    try? await Task.sleep(for: .milliseconds(100))
                }
                continuation.finish()
            }
            continuation.onTermination = { _ in task.cancel() }
        }
    }

    /// Progress as one line of text, as the terminal shows it (without colours).
    static func line(_ event: ProgressEvent) -> String? {
        switch event {
        case let .step(step, phase):
            guard case .finished = phase else { return nil }
            return "\(step.action.verb) \(step.service ?? ""): done"
        case let .seed(outcome): return "seed \(outcome.name): \(outcome.status.rawValue) (\(outcome.detail))"
        case let .note(note):
            if case let .success(rest) = note.weight { return note.text + rest }
            return note.text
        case let .tested(revision, verdict, detail): return "revision \(revision): \(verdict) (\(detail))"
        case let .transfer(transfer): return transfer.finished ? "\(transfer.label): \(Bytes.format(transfer.bytes))" : nil
        }
    }
}

/// The overview's status, computed once for everyone who asks at the same moment (a page being
/// rendered, the live streams of several tabs) and reused while it is younger than the caller
/// allows: a reload right after an update costs no second look at the engine.
actor StatusCache {
    private var latest: (report: StatusUseCase.Report, at: ContinuousClock.Instant)?
    private var running: (task: Task<StatusUseCase.Report, any Error>, started: ContinuousClock.Instant)?

    /// A report begun no earlier than `maxAge` ago: a finished one, or one under way. With
    /// `.zero` (after an engine event) only a look begun after the call will do.
    func report(maxAge: Duration, compute: @escaping @Sendable () async throws -> StatusUseCase.Report) async throws -> StatusUseCase.Report {
        let asked = ContinuousClock.now
        if let latest, asked - latest.at <= maxAge, maxAge > .zero { return latest.report }
        if let running, running.started >= asked - maxAge, maxAge > .zero { return try await running.task.value }
        let task = Task { try await compute() }
        running = (task, asked)
        let report = try await task.value
        if running?.started == asked { running = nil }
        if latest.map({ $0.at < asked }) ?? true { latest = (report, asked) }
        return report
    }
}
