import Application
import EnvSpec
import Foundation
import Hummingbird
import NIOCore

/// POST actions, each through the application layer (and the environment's lease where the CLI
/// takes it). The answer is a job id; the page follows its progress at /live/jobs/ID, and the
/// use case records its events as the CLI's would.
extension DashboardServer {
    func addActions(_ router: Router<BasicRequestContext>) {
        router.post("/actions/rollback") { request, _ in
            let form = try await Self.form(request)
            guard let revision = form["revision"].flatMap({ Int($0) }) else { throw HTTPError(.badRequest, message: "expected revision=N") }
            do { _ = try workspace.revision(environment: environment, number: revision) } catch { throw HTTPError(.badRequest, message: "\(error)") }
            return startJob { sink in
                try await RollbackUseCase.run(workspace: workspace, environment: environment, to: revision, withData: false, recordOnly: false, settings: settings, sink: sink)
                return "rolled back to revision \(revision)"
            }
        }
        router.post("/actions/restart") { request, _ in
            let form = try await Self.form(request)
            guard let service = form["service"], try workspace.revision(environment: environment).spec.services[service] != nil else {
                throw HTTPError(.badRequest, message: "expected service=NAME of a service of \(environment)")
            }
            return startJob { sink in
                try await RestartUseCase.run(workspace: workspace, environment: environment, service: service, sink: sink)
                return "restarted \(service)"
            }
        }
        router.post("/actions/seed") { request, _ in
            let form = try await Self.form(request)
            guard let seed = form["seed"], try workspace.revision(environment: environment).spec.seeds[seed] != nil else {
                throw HTTPError(.badRequest, message: "expected seed=NAME of a seed of \(environment)")
            }
            return startJob { sink in
                try await SeedUseCase.run(workspace: workspace, environment: environment, seeds: [seed], force: true, sink: sink)
                return "ran seed \(seed)"
            }
        }
        router.post("/actions/snapshot") { request, _ in
            let form = try await Self.form(request)
            guard let name = form["name"], Names.isValid(name) else { throw HTTPError(.badRequest, message: "expected name=NAME: \(Names.ruleText)") }
            return startJob { sink in
                try await SnapshotUseCases.save(workspace: workspace, environment: environment, name: name, service: nil, volume: nil, settings: settings, sink: sink)
                return "saved snapshot \(name)"
            }
        }
    }

    func startJob(_ work: @escaping @Sendable (@escaping ProgressSink) async throws -> String) -> Response {
        let id = jobs.start(work)
        return Response(status: .accepted, headers: [.contentType: "application/json"], body: .init(byteBuffer: ByteBuffer(string: "{\"job\": \"\(id)\"}")))
    }

    /// An `application/x-www-form-urlencoded` body, at most 64 KiB.
    static func form(_ request: Request) async throws -> [String: String] {
        let body = try await request.body.collect(upTo: 64 * 1024)
        let text = String(buffer: body)
        var out: [String: String] = [:]
        for pair in text.split(separator: "&") {
            let parts = pair.split(separator: "=", maxSplits: 1).map { String($0).replacingOccurrences(of: "+", with: " ").removingPercentEncoding ?? "" }
            if parts.count == 2 { out[parts[0]] = parts[1] } else if parts.count == 1 { out[parts[0]] = "" }
        }
        return out
    }
}
