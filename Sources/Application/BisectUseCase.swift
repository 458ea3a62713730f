import EnvSpec
import Foundation
import Reconciler
import StateStore

/// Finds the first bad revision between a good and a bad one by applying recorded revisions and
/// running a test on each; converges back to where it started. Records no revision.
public enum BisectUseCase {
    public struct Result: Sendable {
        public var firstBad: StoredRevision
        /// Revisions that could not be tested.
        public var undecided: [Int]
        /// What changed from the revision before it.
        public var changes: [SpecDiff.Entry]
    }

    /// `test` runs the person's command and returns its exit code.
    public static func run(workspace: Workspace, environment env: String, good: Int, bad: Int, settings: ConvergeSettings,
                           test: @escaping @Sendable () throws -> Int32, sink: @escaping ProgressSink) async throws -> Result {
        let db = workspace.store
        _ = try db.revision(environment: env, number: good)
        _ = try db.revision(environment: env, number: bad)
        let current = try db.revision(environment: env)
        let reconciler = try workspace.reconciler(current.spec.engine)
        let executor = workspace.executor(reconciler, timeoutSeconds: settings.timeoutSeconds, parallel: settings.parallel, sink: sink, quiet: true)
        var search = BisectSearch(good: good, bad: bad, revisions: Array(good...bad))
        search = try await workspace.exclusively(env, as: .bisect) { [search] in
            var search = search
            sink(.info("bisecting \(env) between good revision \(good) and bad revision \(bad) (\(bad - good - 1) to test, about \(Int(log2(Double(max(bad - good, 1))).rounded(.up))) steps)"))
            while let number = search.next {
                let stored = try db.revision(environment: env, number: number)
                let outcome = try await reconciler.apply(stored, executor: executor)
                guard outcome.converged else {
                    sink(.tested(revision: number, verdict: .skip, detail: "it does not converge (\(outcome.report.failures.first?.message ?? outcome.plan.problems.first ?? "failed"))"))
                    search.record(number, .skip)
                    continue
                }
                let code = try test()
                let verdict: BisectSearch.Verdict = code == 0 ? .good : code == 125 ? .skip : .bad
                sink(.tested(revision: number, verdict: verdict, detail: "exit \(code)"))
                search.record(number, verdict)
            }
            sink(.info("converging \(env) back to revision \(current.summary.number)"))
            let back = try await reconciler.apply(current, executor: executor)
            if !back.converged { sink(.warning("\(env) did not converge back to revision \(current.summary.number); run devstack apply or rollback")) }
            return search
        }
        let first = search.firstBad ?? bad
        let revision = try db.revision(environment: env, number: first)
        var changes: [SpecDiff.Entry] = []
        if first > 1, let before = try? db.revision(environment: env, number: first - 1) {
            changes = SpecDiff(from: before.spec, to: revision.spec).entries
        }
        return Result(firstBad: revision, undecided: search.undecided, changes: changes)
    }
}
