import Foundation
import Testing
import TestSupport
@testable import EnvSpec

/// Mutated environment files: the loader must never crash, and every rejection must be a clear
/// message naming a file. CI runs 20,000 cases; `DEVSTACK_FUZZ_CASES=200000 swift test --filter
/// FuzzTests` runs a longer campaign. A crash kills the test process, so it cannot pass silently.
@Suite struct FuzzTests {
    static let tokens = ["{", "}", "[", "]", "\"", ":", ",", "null", "true", "-1e999", "1e400", "0.0000001", "\"${", "${X:-", "$$",
                         "\\u0000", "\\ud800", "\u{FEFF}", "é", "🚀", "\"../../etc/passwd\"", "\"/etc/shadow\"", "\"a:b:c:d\"",
                         String(repeating: "[", count: 600), String(repeating: "9", count: 400), "\"\(String(repeating: "x", count: 5000))\"",
                         "\"dev.devstack.env\"", "\"healthy\"", "\"0.0.0.0:80:80\"", "\"5s\"", "\"-1s\"", "\"512q\"", "\"include\"", "\"secret\"",
                         "\"tasks\"", "\"develop\"", "\"watch\"", "\"sync+restart\"", "\"dep:x\""]

    static var corpus: [String] {
        let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
        var texts = [good, withTasks]
        for path in ["examples/edx-lite/env.json"] {
            if let text = try? String(contentsOf: root.appendingPathComponent(path), encoding: .utf8) { texts.append(text) }
        }
        let bad = root.appendingPathComponent("Tests/IntegrationTests/Fixtures/bad")
        for name in (try? FileManager.default.contentsOfDirectory(atPath: bad.path))?.sorted() ?? [] {
            if let text = try? String(contentsOf: bad.appendingPathComponent(name), encoding: .utf8) { texts.append(text) }
        }
        return texts
    }

    static let withTasks = #"""
    {"name": "t", "secrets": {"k": {"fromEnv": "K"}},
     "services": {"web": {"build": ".", "develop": {"watch": [{"path": "src", "target": "/app", "action": "sync", "ignore": ["*.pyc"]},
                                                             {"path": "Dockerfile", "action": "rebuild"}]}}},
     "tasks": {"test": {"service": "web", "run": ["pytest"], "args": true, "env": {"A": {"secret": "k"}}},
               "shell": {"service": "web", "exec": ["sh"], "interactive": true, "dependsOn": ["web"], "workingDir": "/app", "user": "1"}}}
    """#

    static func mutate(_ text: String, _ random: inout SplitMix) -> String { Mutation.mutate(text, tokens: tokens, &random) }

    static func attempt(_ files: [String: String]) -> Result<EnvironmentSpec, ValidationFailure> {
        do { return .success(try load(files, host: ["LMS_PORT": "18000"]).spec) } catch { return .failure(error) }
    }

    static func readsBack(_ spec: EnvironmentSpec) -> Bool {
        (try? EnvironmentSpec.decodeCanonical(json: spec.canonicalJSON, source: "stored")) == spec
    }

    @Test func mutatedFilesNeverCrashAndEveryRejectionIsClear() throws {
        let cases = Int(ProcessInfo.processInfo.environment["DEVSTACK_FUZZ_CASES"] ?? "") ?? 20_000
        let corpus = Self.corpus
        #expect(corpus.count >= 3)
        var random = SplitMix(state: 0xDE57AC)
        var accepted = 0, rejected = 0
        for i in 0..<cases {
            let text = Self.mutate(corpus[i % corpus.count], &random)
            let files = ["/p/env.json": text, "/p/seeds/schema.sql": "", "/p/seeds/demo-course.sql": "", "/p/secrets/mysql-password": "x",
                         "/p/config/lms.yml": "a: 1\n"]
            switch Self.attempt(files) {
            case let .success(spec):
                accepted += 1
                // What is accepted is recorded in canonical form, and must read back as the same spec.
                #expect(Self.readsBack(spec), "case \(i): canonical form does not read back")
            case let .failure(failure):
                rejected += 1
                #expect(!failure.diagnostics.isEmpty, "case \(i): rejected without a message")
                for d in failure.diagnostics {
                    let line = d.description
                    #expect(line.hasPrefix("env.json") || line.hasPrefix("/p/") || line.hasPrefix("stored"), "case \(i): message names no file: \(line)")
                    #expect(line.count < 20_000 && !line.contains("Fatal"), "case \(i): \(line.prefix(200))")
                }
            }
        }
        // In-process: a crash would end the test run here; SignalFuzzTests counts crashes from outside.
        print("fuzz (in process): \(cases) env-file cases, \(accepted) accepted, \(rejected) rejected with a clear message")
        #expect(accepted > 0, "some mutations must stay valid, or the accepted path goes untested")
        #expect(rejected > cases / 2, "mutations should mostly be invalid")
    }

    @Test func canonicalDecodingOfDamagedStoredTextNeverCrashes() {
        var random = SplitMix(state: 0xB0DE)
        let stored = (try? load(["/p/env.json": good]))?.spec.canonicalJSON ?? "{}"
        for _ in 0..<2_000 {
            let text = Self.mutate(stored, &random)
            do { _ = try EnvironmentSpec.decodeCanonical(json: text, source: "stored") } catch {
                #expect(!error.diagnostics.isEmpty)
            }
        }
    }
}
