import StateStore
import EnvSpec
struct PlanDiff {
    var store: StoreOptions
    var environment: EnvironmentOption
    var output: OutputOptions
    func run() async throws { throw UserError("diff against the engine is not available yet") }
}
struct ApplyRun {
    var store: StateStore
    var revision: RevisionSummary
    var loaded: LoadedEnvironment
    func run() async throws { throw UserError("converging the engine is not available yet; use --record-only") }
}
