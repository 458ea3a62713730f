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
        #expect(json["name"] as? String == "edx-lite")
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
}
