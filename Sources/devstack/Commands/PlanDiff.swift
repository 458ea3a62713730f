import EnvSpec
import Foundation
import Reconciler
import StateStore

/// `devstack diff` with no revisions: the plan apply would carry out, printed and not executed.
struct PlanDiff {
    var store: StoreOptions
    var environment: EnvironmentOption
    var output: OutputOptions
    var files: [String] = []
    var profiles: [String] = []

    struct StepJSON: Encodable {
        var action: String
        var service: String?
        var cause: String
    }

    struct Report: Encodable {
        var environment: String
        var revision: Int
        var steps: [StepJSON]
        var problems: [String]
        var inSync: Bool
    }

    func run() async throws {
        let stored: StoredRevision
        let db: StateStore
        if !files.isEmpty {
            // The file as it would be recorded, without recording it (kubectl diff -f).
            let loaded = try EnvironmentInput(positional: nil, files: files, profiles: profiles).load()
            db = FileManager.default.fileExists(atPath: store.path) ? try store.openForReading() : try StateStore.inMemory()
            let next = ((try? db.latestNumber(environment: loaded.spec.name)) ?? nil).map { $0 + 1 } ?? 1
            stored = .draft(loaded.spec, number: next, projectDirectory: loaded.projectDirectory)
        } else {
            db = try store.openForReading()
            stored = try db.revision(environment: try db.resolveEnvironment(environment.env))
        }
        let env = stored.spec.name
        let reconciler = try EngineFactory.reconciler(store: db)
        let desired = try reconciler.desiredState(stored)
        let observed = try await reconciler.observe(desired)
        let plan = try reconciler.plan(desired, observed: observed)
        let changes = plan.steps.filter { !$0.action.isWait }
        if output.json {
            return try JSONOutput.print(Report(environment: env, revision: stored.summary.number,
                                               steps: changes.map { StepJSON(action: $0.action.verb, service: $0.service, cause: $0.cause) },
                                               problems: plan.problems, inSync: changes.isEmpty && plan.problems.isEmpty))
        }
        let text = Plan(environment: plan.environment, steps: changes, problems: []).text
        for line in text.split(separator: "\n") {
            switch line.first {
            case "+": print(Terminal.green(String(line)))
            case "-": print(Terminal.red(String(line)))
            case "~": print(Terminal.yellow(String(line)))
            default: print(line)
            }
        }
        for problem in plan.problems { print(Terminal.red("! \(problem)")) }
        print("\(files.isEmpty ? "revision \(stored.summary.number)" : files.joined(separator: " + ")) of \(env): \(plan.summary)")
    }
}
