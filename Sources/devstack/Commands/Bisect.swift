import ArgumentParser
import EnvSpec
import Foundation
import Reconciler
import StateStore

extension Devstack {
    struct Bisect: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Find the first bad revision: apply recorded revisions between GOOD and BAD and run a test command on each.",
            discussion: """
                The test command is an argument array after --. Exit 0 means good, 125 means the revision cannot be \
                tested (skipped), anything else means bad, as with git bisect. No revision is recorded; at the end the \
                environment is converged back to the revision it had. Seeds do not run.
                """)

        @Argument(help: "A revision known to be good.") var good: Int
        @Argument(help: "A revision known to be bad.") var bad: Int
        @Argument(parsing: .postTerminator, help: "The test command, after --.") var command: [String] = []
        @OptionGroup var store: StoreOptions
        @OptionGroup var environment: EnvironmentOption
        @OptionGroup var converge: ConvergeOptions

        func validate() throws {
            if command.isEmpty { throw ValidationError("give the test command after --, e.g. devstack bisect 3 9 -- ./smoke-test.sh") }
            if good >= bad { throw ValidationError("GOOD (\(good)) must be an earlier revision than BAD (\(bad))") }
        }

        func run() async throws {
            let db = try store.openExisting()
            let env = try db.resolveEnvironment(environment.env)
            _ = try db.revision(environment: env, number: good)
            _ = try db.revision(environment: env, number: bad)
            let current = try db.revision(environment: env)
            let reconciler = try EngineFactory.reconciler(store: db)
            let executor = Executor.cli(engine: reconciler.engine, store: db, timeoutSeconds: converge.timeout, parallel: converge.parallel, quiet: true)
            var search = BisectSearch(good: good, bad: bad, revisions: Array(good...bad))
            try await ExclusiveLease.run(db, environment: env, holder: "bisect") {
                print("bisecting \(env) between good revision \(good) and bad revision \(bad) (\(bad - good - 1) to test, about \(Int(log2(Double(max(bad - good, 1))).rounded(.up))) steps)")
                while let revision = search.next {
                    let verdict = try await test(revision, reconciler: reconciler, executor: executor, db: db, env: env)
                    search.record(revision, verdict)
                }
                print("converging \(env) back to revision \(current.summary.number)")
                let back = try await reconciler.apply(current, executor: executor)
                if !back.converged { Terminal.warn("\(env) did not converge back to revision \(current.summary.number); run devstack apply or rollback") }
            }
            let first = search.firstBad ?? bad
            let revision = try db.revision(environment: env, number: first)
            if !search.undecided.isEmpty {
                print("revisions \(search.undecided.map(String.init).joined(separator: ", ")) could not be tested; the first bad revision is one of them or \(first)")
            }
            print(Terminal.bold("first bad revision: \(first)") + " by \(revision.summary.author) at \(History.time(revision.summary.createdAt))"
                  + (revision.summary.message.isEmpty ? "" : ": \(revision.summary.message)"))
            if first > 1, let before = try? db.revision(environment: env, number: first - 1) {
                for entry in SpecDiff(from: before.spec, to: revision.spec).entries {
                    for field in entry.fields {
                        print("  \(entry.section) \(entry.name): \(field.path): \(field.old ?? "—") → \(field.new ?? "—")")
                    }
                }
            }
        }

        func test(_ number: Int, reconciler: Reconciler, executor: Executor, db: StateStore, env: String) async throws -> BisectSearch.Verdict {
            let stored = try db.revision(environment: env, number: number)
            let outcome = try await reconciler.apply(stored, executor: executor)
            guard outcome.converged else {
                print("revision \(number): " + Terminal.yellow("skipped") + ", it does not converge (\(outcome.report.failures.first?.message ?? outcome.plan.problems.first ?? "failed"))")
                return .skip
            }
            let code = try TestCommand.run(command)
            let verdict: BisectSearch.Verdict = code == 0 ? .good : code == 125 ? .skip : .bad
            let label = verdict == .good ? Terminal.green("good") : verdict == .bad ? Terminal.red("bad") : Terminal.yellow("skipped")
            print("revision \(number): \(label) (exit \(code))")
            Terminal.flush()
            return verdict
        }
    }
}

/// Runs a user's test command as an argument array, its output going to our terminal.
enum TestCommand {
    static func run(_ argv: [String]) throws -> Int32 {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        process.arguments = argv
        do { try process.run() } catch {
            throw UserError("cannot run the test command \(argv[0]): \(LocalFiles.reason(error))", exitCode: 2)
        }
        process.waitUntilExit()
        return process.terminationReason == .uncaughtSignal ? 128 + process.terminationStatus : process.terminationStatus
    }
}
