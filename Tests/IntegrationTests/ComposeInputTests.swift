import Foundation
import Testing
import TestSupport

/// Compose files wherever a file is taken, combined the way compose combines them.
@Suite struct ComposeInputTests {
    func project() -> String {
        let dir = CLI.temporaryDirectory("devstack-compose")
        CLI.write("""
            services:
              web:
                extends:
                  file: shared/base.yml
                  service: base
                environment:
                  MODE: ${MODE:-dev}
              db:
                image: devstack/busybox:1.36
            """, to: dir + "/compose.yml")
        CLI.write("""
            services:
              base:
                image: devstack/busybox:1.36
                build: ./ctx
                depends_on: [db]
                environment:
                  TAG: "$TAG"
            """, to: dir + "/shared/base.yml")
        CLI.write("services:\n  web:\n    environment:\n      EXTRA: \"yes\"\n", to: dir + "/extra.yml")
        return dir
    }

    @Test func composeFileAndDotEnvGiveTheFilesTheProfilesAndTheName() throws {
        let dir = project()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        CLI.write("COMPOSE_FILE=compose.yml:extra.yml\nCOMPOSE_PROJECT_NAME=Edx Lite\nTAG=1.2 # a comment\n", to: dir + "/.env")
        let validated = CLI.devstack(["validate", "--json"], cwd: dir)
        #expect(validated.code == 0, "\(validated.output)")
        let shown = CLI.devstack(["import-compose"], cwd: dir)
        #expect(shown.code == 0, "\(shown.output)")
        let json = try #require(try JSONSerialization.jsonObject(with: Data(shown.stdout.utf8)) as? [String: Any])
        #expect(json["name"] as? String == "edxlite", "COMPOSE_PROJECT_NAME, normalised as compose does")
        let web = (json["services"] as? [String: Any])?["web"] as? [String: Any]
        #expect(web?["env"] as? [String: String] == ["MODE": "dev", "TAG": "1.2", "EXTRA": "yes"])
        #expect(web?["build"] as? String == "shared/ctx", "a path in an extended file is relative to that file")
        #expect(web?["dependsOn"] as? [String] == ["db"])
    }

    @Test func theSameFilesThroughDashFEverywhere() throws {
        let dir = project()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let env = ["DEVSTACK_STATE": dir + "/state.db", "TAG": "2.0"]
        let validated = CLI.devstack(["validate", "-f", "compose.yml", "-f", "extra.yml"], environment: env, cwd: dir)
        #expect(validated.code == 0, "\(validated.output)")
        #expect(validated.stdout.hasPrefix("compose.yml + extra.yml: valid: environment"), "\(validated.stdout)")
        let graph = CLI.devstack(["graph", "-f", "compose.yml", "-f", "extra.yml", "--format", "mermaid"], environment: env, cwd: dir)
        #expect(graph.stdout.contains("web -->|started| db"), "\(graph.output)")
        let applied = CLI.devstack(["apply", "-f", "compose.yml", "-f", "extra.yml", "--record-only"], environment: env, cwd: dir)
        #expect(applied.code == 0, "\(applied.output)")
        let shown = CLI.devstack(["show", "--json"], environment: env, cwd: dir).stdout
        #expect(shown.contains("\"EXTRA\": \"yes\"") && shown.contains("\"TAG\": \"2.0\""), "\(shown)")
    }

    @Test func aRequiredVariableStopsWithItsMessageAndLine() {
        let dir = CLI.temporaryDirectory("devstack-compose")
        defer { try? FileManager.default.removeItem(atPath: dir) }
        CLI.write("services:\n  web:\n    image: \"busybox:${TAG:?set TAG to the release}\"\n", to: dir + "/compose.yml")
        let result = CLI.devstack(["validate", "compose.yml"], cwd: dir)
        #expect(result.code == 2)
        #expect(result.stderr == "devstack: error: compose.yml:3:12: services.web.image: required variable TAG is missing a value: set TAG to the release\n")
    }

    /// YAML that once crashed the importer (SIGILL, SIGSEGV) or grew to gigabytes: one line with
    /// the file and line, exit 2.
    @Test(arguments: [
        ("services:\n  ? [a, b]\n  : {image: x}\n", "devstack: error: c.yml:2:5: a mapping key must be a plain value, not a list\n"),
        ("services: " + String(repeating: "[", count: 10_000) + String(repeating: "]", count: 10_000) + "\n",
         "devstack: error: c.yml:1:138: nesting deeper than 128 levels\n"),
        ("a0: &a0 [lol, lol, lol, lol, lol, lol, lol, lol, lol]\n" + (1..<10).map { i in
            "a\(i): &a\(i) [" + Array(repeating: "*a\(i - 1)", count: 9).joined(separator: ", ") + "]" }.joined(separator: "\n") + "\nservices: {}\n",
         "devstack: error: c.yml:7:10: aliases expand to more than 1000000 values\n"),
        ("services:\n  web:\n    image: x\n    image: y\n", "devstack: error: c.yml:4:5: mapping key \"image\" already defined at line 3\n"),
    ])
    func yamlThatUsedToCrashIsOneClearLine(yaml: String, expected: String) {
        let dir = CLI.temporaryDirectory("devstack-compose")
        defer { try? FileManager.default.removeItem(atPath: dir) }
        CLI.write(yaml, to: dir + "/c.yml")
        for command in [["import-compose", "c.yml"], ["validate", "c.yml"], ["apply", "c.yml", "--record-only"]] {
            let result = CLI.devstack(command, environment: ["DEVSTACK_STATE": dir + "/state.db"], cwd: dir)
            #expect(result.code == 2, "\(command): \(result.output.prefix(500))")
            #expect(result.stderr == expected, "\(command)")
        }
        #expect(!FileManager.default.fileExists(atPath: dir + "/state.db"))
    }
}
