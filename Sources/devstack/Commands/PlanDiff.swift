import EnvSpec
import Foundation
import Reconciler
import Application

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
        let loaded = files.isEmpty ? nil : try EnvironmentInput(positional: nil, files: files, profiles: profiles).load()
        // With files: the file as it would be recorded, without recording it (kubectl diff -f).
        let (stored, plan) = try await PlanUseCase.run(statePath: store.path, environment: environment.env,
                                                       draft: loaded.map { ($0.spec, $0.projectDirectory) })
        let env = stored.spec.name
        let changes = plan.steps.filter { !$0.action.isWait }
        if output.json {
            return try JSONOutput.print(Report(environment: env, revision: stored.summary.number,
                                               steps: changes.map { StepJSON(action: $0.action.verb, service: $0.service, cause: $0.cause) },
                                               problems: plan.problems, inSync: changes.isEmpty && plan.problems.isEmpty))
        }
        // One write for the whole plan: 10,000 lines printed one by one took a tenth of the run.
        var out = ""
        for line in Plan(environment: plan.environment, steps: changes, problems: []).text.split(separator: "\n") {
            switch line.first {
            case "+": out += Terminal.green(String(line))
            case "-": out += Terminal.red(String(line))
            case "~": out += Terminal.yellow(String(line))
            default: out += line
            }
            out += "\n"
        }
        for problem in plan.problems { out += Terminal.red("! \(problem)") + "\n" }
        print(out, terminator: "")
        print("\(files.isEmpty ? "revision \(stored.summary.number)" : files.joined(separator: " + ")) of \(env): \(plan.summary)")
    }
}
