import Foundation
import Testing
import TestSupport

/// devstack's compose import against Compose v2 itself (`docker compose config`), on the corpus in
/// Tests/ComposeDifferential/cases: every field devstack carries agrees, and every difference is
/// a warning devstack printed or a file both refuse. The comparison is scripts/compose-differential.
@Suite struct ComposeDifferentialTests {
    @Test func importAgreesWithComposeV2FieldByField() throws {
        let script = CLI.packageRoot.appendingPathComponent("scripts/compose-differential").path
        let result = CLI.run("python3", [script, "--devstack", CLI.binary])
        print(result.stdout.split(separator: "\n").suffix(20).joined(separator: "\n"))
        #expect(result.code == 0, "\(result.output)")
        let summary = result.stdout.split(separator: "\n").last.map(String.init) ?? ""
        #expect(summary.hasPrefix("differential: 50 cases, "), "\(summary)")
        #expect(summary.hasSuffix(", 0 unexplained"), "\(summary)")
    }
}
