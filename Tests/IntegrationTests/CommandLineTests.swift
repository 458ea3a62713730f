import Foundation
import Testing
import TestSupport

/// The built binary, end to end, on the store alone (no engine).
@Suite struct CommandLineTests {
    let fixtures = CLI.packageRoot.appendingPathComponent("Tests/IntegrationTests/Fixtures")
    let example = CLI.packageRoot.appendingPathComponent("examples/edx-lite/env.json").path

    func state() -> String { CLI.temporaryDirectory() + "/state.db" }

    @Test func recordOnlyIsIdempotentAndDiffShowsTheChangedField() throws {
        let db = state()
        let env = ["DEVSTACK_STATE": db]
        let first = CLI.devstack(["apply", example, "--record-only"], environment: env)
        #expect(first.code == 0, "\(first.output)")
        #expect(first.stdout.contains("recorded revision 1 of edx-lite"))
        let second = CLI.devstack(["apply", example, "--record-only"], environment: env)
        #expect(second.code == 0)
        #expect(second.stdout.contains("no changes"))
        let history = CLI.devstack(["history", "--json"], environment: env)
        #expect(history.code == 0)
        let revisions = try JSONSerialization.jsonObject(with: Data(history.stdout.utf8)) as? [[String: Any]]
        #expect(revisions?.count == 1)

        // Change one env value of one service, through a copy of the example.
        let dir = CLI.temporaryDirectory()
        let text = try String(contentsOfFile: example, encoding: .utf8)
            .replacingOccurrences(of: "\"SERVICE_VARIANT\": \"lms\"", with: "\"SERVICE_VARIANT\": \"cms\"")
        for sub in ["seeds", "secrets", "config"] {
            try FileManager.default.copyItem(atPath: CLI.packageRoot.appendingPathComponent("examples/edx-lite/\(sub)").path, toPath: "\(dir)/\(sub)")
        }
        CLI.write(text, to: "\(dir)/env.json")
        let third = CLI.devstack(["apply", "\(dir)/env.json", "--record-only"], environment: env)
        #expect(third.stdout.contains("recorded revision 2 of edx-lite (~lms)"), "\(third.output)")
        let diff = CLI.devstack(["diff", "1", "2"], environment: env)
        #expect(diff.code == 0)
        #expect(diff.stdout == """
            ~ service lms
                ~ env.SERVICE_VARIANT: "lms" → "cms"
            0 added, 1 changed, 0 removed

            """)
    }

    /// Every kind of bad input: one line naming the file and JSON path, exit 2, database untouched.
    @Test(arguments: [
        ("malformed.json", "malformed.json:7:1: invalid JSON: expected ',' or '}', found end of file"),
        ("unknown-key.json", #"unknown-key.json: services.web.enviroment: unknown key "enviroment""#),
        ("missing-image.json", #"missing-image.json: services.web: expected "image" or "build""#),
        ("bad-port.json", #"bad-port.json: services.web.ports[0]: expected a port such as"#),
        ("bad-volume.json", #"bad-volume.json: services.web.volumes[0]: expected a volume such as"#),
        ("duplicate-port.json", "duplicate-port.json: services.b.ports[0]: host port 9000/tcp is already published by services.a.ports[0]"),
        ("cycle.json", "cycle.json: services.a.dependsOn: dependency cycle: a → c → b → a"),
        ("unknown-dependency.json", #"unknown-dependency.json: services.lms.dependsOn.mysq: no service named "mysq" (did you mean "mysql"?)"#),
        ("undefined-variable.json", #"undefined-variable.json: services.web.image: variable "UNDEFINED_DEVSTACK_TAG" is not defined"#),
        ("include-loop.json", "include-loop.json → "),
    ])
    func badInputIsRefusedAndChangesNothing(file: String, expected: String) throws {
        let db = state()
        let env = ["DEVSTACK_STATE": db]
        #expect(CLI.devstack(["apply", example, "--record-only"], environment: env).code == 0)
        let before = try Data(contentsOf: URL(fileURLWithPath: db))
        let path = fixtures.appendingPathComponent("bad/\(file)").path
        for command in [["validate", path], ["apply", path], ["apply", path, "--record-only"]] {
            let result = CLI.devstack(command, environment: env)
            #expect(result.code == 2, "\(command): \(result.output)")
            #expect(result.stdout.isEmpty)
            let lines = result.stderr.split(separator: "\n")
            #expect(lines.count == 1, "\(result.stderr)")
            #expect(result.stderr.contains(expected), "\(result.stderr)")
            #expect(result.stderr.hasPrefix("devstack: error: "))
            #expect(!result.stderr.contains("Fatal error"))
        }
        #expect(try Data(contentsOf: URL(fileURLWithPath: db)) == before, "the database changed")
        #expect(CLI.devstack(["history", "--json"], environment: env).stdout.components(separatedBy: "\"number\"").count == 2)
    }

    @Test func exportThenImportIntoAnEmptyStoreHasNoDifference() throws {
        let a = state(), b = state()
        #expect(CLI.devstack(["apply", example, "--record-only"], environment: ["DEVSTACK_STATE": a]).code == 0)
        let bundle = CLI.temporaryDirectory() + "/bundle.json"
        let exported = CLI.devstack(["export", "1", "-o", bundle], environment: ["DEVSTACK_STATE": a])
        #expect(exported.code == 0, "\(exported.output)")
        let text = try String(contentsOfFile: bundle, encoding: .utf8)
        #expect(!text.contains("dev-only-not-a-real-password"), "a secret value leaked into the export")
        let imported = CLI.devstack(["import", bundle], environment: ["DEVSTACK_STATE": b])
        #expect(imported.code == 0, "\(imported.output)")
        #expect(imported.stdout.contains("as revision 1 of edx-lite"))
        let left = CLI.devstack(["show", "1", "--json"], environment: ["DEVSTACK_STATE": a]).stdout
        let right = CLI.devstack(["show", "1", "--json"], environment: ["DEVSTACK_STATE": b]).stdout
        func spec(_ s: String) -> String? { s.range(of: "\"spec\"").map { String(s[$0.lowerBound...]) } }
        #expect(spec(left) != nil)
        #expect(spec(left) == spec(right))
        let history = CLI.devstack(["history"], environment: ["DEVSTACK_STATE": b]).stdout
        #expect(history.contains("import"))
        // A second import of the same bundle is not a new revision.
        #expect(CLI.devstack(["import", bundle], environment: ["DEVSTACK_STATE": b]).stdout.contains("no changes"))
    }

    @Test func readCommandsExplainAnEmptyStoreWithoutCreatingIt() {
        let db = state()
        let result = CLI.devstack(["history"], environment: ["DEVSTACK_STATE": db])
        #expect(result.code == 1)
        #expect(result.stderr == "devstack: error: no environment has been recorded yet: run devstack apply ENV_FILE first\n")
        #expect(!FileManager.default.fileExists(atPath: db))
        let missing = CLI.devstack(["show", "7"], environment: ["DEVSTACK_STATE": db])
        #expect(missing.code == 1)
    }

    /// Eight processes creating one database at once: opening and migrating take turns, so no
    /// "database is locked" reaches anyone and every revision is recorded.
    @Test func eightProcessesCreatingOneDatabaseNeverSeeALock() throws {
        let dir = CLI.temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let text = try String(contentsOfFile: example, encoding: .utf8)
        for sub in ["seeds", "secrets", "config"] {
            try FileManager.default.copyItem(atPath: CLI.packageRoot.appendingPathComponent("examples/edx-lite/\(sub)").path, toPath: "\(dir)/\(sub)")
        }
        for i in 1...8 { CLI.write(text.replacingOccurrences(of: "\"SERVICE_VARIANT\": \"lms\"", with: "\"SERVICE_VARIANT\": \"v\(i)\""), to: "\(dir)/env-\(i).json") }
        for round in 1...10 {
            let env = ["DEVSTACK_STATE": "\(dir)/round-\(round).db"]
            let results = (1...8).map { i in
                let p = Process()
                p.executableURL = URL(fileURLWithPath: CLI.binary)
                p.arguments = ["apply", "\(dir)/env-\(i).json", "--record-only"]
                p.environment = ProcessInfo.processInfo.environment.merging(env) { $1 }
                let err = Pipe()
                p.standardError = err
                p.standardOutput = FileHandle.nullDevice
                try? p.run()
                return (p, err)
            }
            for (p, err) in results {
                p.waitUntilExit()
                let message = String(decoding: err.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
                #expect(p.terminationStatus == 0 && !message.contains("locked"), "round \(round): \(message)")
            }
            let history = CLI.devstack(["history", "--json"], environment: env).stdout
            #expect(history.components(separatedBy: "\"number\"").count == 9, "round \(round): every revision recorded")
        }
    }

    @Test func aMissingFileIsOneLine() {
        let result = CLI.devstack(["validate", "/nonexistent/env.json"])
        #expect(result.code == 2)
        #expect(result.stderr == "devstack: error: /nonexistent/env.json: cannot read the file: no such file\n")
    }

    @Test func graphRendersDependencies() {
        let dot = CLI.devstack(["graph", example])
        #expect(dot.code == 0)
        #expect(dot.stdout.contains("\"lms\" -> \"mariadb\" [label=\"healthy\"];"))
        let mermaid = CLI.devstack(["graph", example, "--format", "mermaid"])
        #expect(mermaid.stdout.contains("worker -->|started| lms"))
    }
}
