import ArgumentParser
import EnvSpec
import Foundation
import Reconciler
import StateStore

/// Flags shared by the commands that converge the engine.
struct ConvergeOptions: ParsableArguments {
    @Option(name: .long, help: "Give up converging after this many seconds.") var timeout: Int = 300
    @Option(name: .long, help: "How many engine operations run at once.") var parallel: Int = 8
}

/// Converges the engine to a recorded revision and reports the result; shared by apply and rollback.
struct ApplyRun {
    var store: StateStore
    var environment: String
    var revision: Int
    var options: ConvergeOptions

    func run() async throws {
        let started = ContinuousClock.now
        let stored = try store.revision(environment: environment, number: revision)
        let reconciler = try EngineFactory.reconciler(store: store)
        let executor = Executor.cli(engine: reconciler.engine, store: store, timeoutSeconds: options.timeout, parallel: options.parallel)
        let outcome = try await reconciler.apply(stored, executor: executor)
        let seconds = String(format: "%.2fs", Double((ContinuousClock.now - started) / .milliseconds(1)) / 1000)
        if !outcome.plan.problems.isEmpty {
            for problem in outcome.plan.problems { Terminal.error(problem) }
            throw UserError("nothing was changed; revision \(revision) stays recorded as the desired state of \(environment)")
        }
        if outcome.plan.isEmpty {
            print("\(environment) is up to date at revision \(revision): nothing to do (\(stored.spec.services.count) services, \(seconds))")
            return
        }
        let failures = outcome.report.failures
        let skipped = outcome.report.outcomes.values.filter { if case .skipped = $0 { return true } else { return false } }.count
        if failures.isEmpty && skipped == 0 {
            print(Terminal.green("converged \(environment) to revision \(revision)") + " in \(seconds) (\(outcome.plan.summary))")
            return
        }
        for failure in failures {
            let step = outcome.plan.steps[failure.step]
            Terminal.error("\(step.service.map { "\($0): " } ?? "")\(step.action.verb) failed: \(failure.message)")
        }
        throw UserError("\(environment) did not converge to revision \(revision) (\(failures.count) failed, \(skipped) skipped); see devstack status and devstack events")
    }
}

extension Devstack {
    struct Rollback: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Record a new revision with REV's desired state, then converge to it.")

        @Argument(help: "The revision to go back to.") var revision: Int
        @OptionGroup var store: StoreOptions
        @OptionGroup var environment: EnvironmentOption
        @OptionGroup var converge: ConvergeOptions
        @Flag(name: .long, help: "Only record the revision; do not touch the engine.") var recordOnly = false

        func run() async throws {
            let db = try store.openExisting()
            let env = try db.resolveEnvironment(environment.env)
            let target = try db.revision(environment: env, number: revision)
            let meta = RevisionMeta.local(message: "rollback to revision \(revision)", source: .rollback,
                                          projectDirectory: target.summary.projectDirectory)
            let outcome = try db.record(target.spec, meta: meta)
            switch outcome {
            case let .recorded(s): print("recorded revision \(s.number) of \(env): rollback to revision \(revision) (\(s.changes))")
            case let .unchanged(s): print("no changes: revision \(s.number) already has the desired state of revision \(revision)")
            }
            if recordOnly { return }
            try await ApplyRun(store: db, environment: env, revision: outcome.summary.number, options: converge).run()
        }
    }
}
