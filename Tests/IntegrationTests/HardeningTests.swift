import Foundation
import Testing
import TestSupport

/// Hostile and careless input against the built binary: no crash, a clear line, exit 2, and
/// nothing outside the state folder changed.
@Suite struct HardeningTests {
    /// The device number of /dev/null (major 1, minor 3), for device nodes of our own.
    static let devNull = dev_t(1 << 8 | 3)

    func project() -> String { CLI.temporaryDirectory("devstack-hard") }

    func mode(_ path: String) -> Int? {
        (try? FileManager.default.attributesOfItem(atPath: path))?[.posixPermissions] as? Int
    }

    func fileType(_ path: String) -> FileAttributeType? {
        (try? FileManager.default.attributesOfItem(atPath: path))?[.type] as? FileAttributeType
    }

    func write(_ dir: String, _ services: String, extra: String = "") -> String {
        let file = dir + "/env.json"
        CLI.write("{\"name\": \"hard\", \(extra) \"services\": {\(services)}}", to: file)
        return file
    }

    // MARK: numbers

    @Test(arguments: [
        (#""healthcheck": {"command": ["true"], "interval": "99999999999999999h"}"#,
         #"env.json: services.web.healthcheck.interval: duration "99999999999999999h" is out of range: at most 8760h (a year)"#),
        (#""healthcheck": {"command": ["true"], "timeout": "9223372036854775807ms"}"#,
         #"env.json: services.web.healthcheck.timeout: duration "9223372036854775807ms" is out of range: at most 8760h (a year)"#),
        (#""healthcheck": {"command": ["true"], "startPeriod": "9000h"}"#,
         #"env.json: services.web.healthcheck.startPeriod: duration "9000h" is out of range: at most 8760h (a year)"#),
        (#""resources": {"memory": "9999999999999g"}"#,
         #"env.json: services.web.resources.memory: size "9999999999999g" is out of range: at most 1024t (1 PiB)"#),
        (#""resources": {"memory": "99999999999999999999999"}"#,
         #"env.json: services.web.resources.memory: size "99999999999999999999999" is out of range: at most 1024t (1 PiB)"#),
    ])
    func overflowingNumbersAreARangeErrorNotACrash(field: String, expected: String) {
        let dir = project()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        _ = write(dir, #""web": {"image": "devstack/busybox:1.36", "# + field + "}")
        let result = CLI.devstack(["validate", "env.json"], cwd: dir)
        #expect(result.code == 2, "\(result.output)")
        #expect(result.stderr == "devstack: error: \(expected)\n")
    }

    @Test func hugeFlagValuesAreUsageErrorsWithExitCode2() {
        let dir = project()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let file = write(dir, #""web": {"image": "devstack/busybox:1.36"}"#)
        let env = ["DEVSTACK_STATE": dir + "/state.db"]
        let timeout = CLI.devstack(["apply", file, "--timeout", "99999999999999999"], environment: env)
        #expect(timeout.code == 2, "\(timeout.output)")
        #expect(timeout.stderr.hasPrefix("devstack: error: --timeout must be a whole number from 1 to 31536000, found 99999999999999999\nUsage: devstack apply"), "\(timeout.stderr)")
        let notANumber = CLI.devstack(["history", "--limit", "many"], environment: env)
        #expect(notANumber.code == 2, "\(notANumber.output)")
        #expect(!FileManager.default.fileExists(atPath: dir + "/state.db"), "a refused command created no database")
    }

    // MARK: output paths

    /// One recorded revision in a fresh state database; returns its path.
    func recordedState(_ dir: String) -> String {
        let state = dir + "/state/state.db"
        let file = write(dir, #""web": {"image": "devstack/busybox:1.36"}"#)
        let result = CLI.devstack(["apply", file, "--record-only", "-m", "first"], environment: ["DEVSTACK_STATE": state])
        #expect(result.code == 0, "\(result.output)")
        return state
    }

    @Test(arguments: [
        (["logs", "--since", "garbage"], "devstack: error: --since expects an RFC 3339 time (2026-11-27T10:00:00Z) or unix seconds, found \"garbage\""),
        (["validate", "/dev/zero"], "devstack: error: /dev/zero: cannot read the file: not a regular file (a device, a socket or a pipe)"),
        (["validate", "/etc"], "devstack: error: /etc: cannot read the file: it is a folder; expected a file"),
        (["import", "/dev/null"], "devstack: error: /dev/null: cannot read the bundle: not a regular file (a device, a socket or a pipe)"),
    ])
    func oddInputsAreOneClearLineWithExitCode2(arguments: [String], expected: String) {
        let dir = project()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let result = CLI.devstack(arguments, environment: ["DEVSTACK_STATE": dir + "/state.db"])
        #expect(result.code == 2, "\(result.output)")
        #expect(result.stderr.split(separator: "\n").first.map(String.init) == expected, "\(result.stderr)")
    }

    @Test func exportToADeviceWritesThroughAndLeavesTheDevice() throws {
        let dir = project()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let state = recordedState(dir)
        // A device node of our own, the same device as /dev/null.
        let device = dir + "/null"
        #expect(mknod(device, S_IFCHR | 0o666, Self.devNull) == 0, "mknod needs root")
        let result = CLI.devstack(["export", "-o", device], environment: ["DEVSTACK_STATE": state])
        #expect(result.code == 0, "\(result.output)")
        #expect(fileType(device) == .typeCharacterSpecial)
    }

    @Test func exportThroughASymlinkKeepsTheLinkAndAnExistingFileKeepsItsMode() throws {
        let dir = project()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let state = recordedState(dir)
        let target = dir + "/real.bundle.json"
        CLI.write("old", to: target)
        #expect(chmod(target, 0o640) == 0)
        try FileManager.default.createSymbolicLink(atPath: dir + "/link.json", withDestinationPath: target)
        let viaLink = CLI.devstack(["export", "-o", dir + "/link.json"], environment: ["DEVSTACK_STATE": state])
        #expect(viaLink.code == 0, "\(viaLink.output)")
        #expect(fileType(dir + "/link.json") == .typeSymbolicLink)
        #expect(try String(contentsOfFile: target, encoding: .utf8).contains("\"format\": \"devstack-bundle\""))
        #expect(mode(target) == 0o640)

        let folder = CLI.devstack(["export", "-o", dir], environment: ["DEVSTACK_STATE": state])
        #expect(folder.code == 1)
        #expect(folder.stderr == "devstack: error: cannot write \(dir): it is a folder; name a file\n")

        let stdout = CLI.devstack(["export", "-o", "-"], environment: ["DEVSTACK_STATE": state])
        #expect(stdout.code == 0)
        #expect(stdout.stdout.hasPrefix("{"))
    }

    @Test func importComposeToADeviceLeavesTheDevice() throws {
        let dir = project()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        CLI.write("services:\n  web:\n    image: devstack/busybox:1.36\n", to: dir + "/compose.yml")
        let device = dir + "/null"
        #expect(mknod(device, S_IFCHR | 0o666, Self.devNull) == 0)
        let result = CLI.devstack(["import-compose", "compose.yml", "-o", device], cwd: dir)
        #expect(result.code == 0, "\(result.output)")
        #expect(fileType(device) == .typeCharacterSpecial)
    }

    @Test func doctorRepairNeverRenamesADevice() throws {
        let dir = project()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let device = dir + "/state.db"
        #expect(mknod(device, S_IFCHR | 0o666, Self.devNull) == 0)
        let result = CLI.devstack(["doctor", "--repair", "--state", device])
        #expect(result.code == 1, "\(result.output)")
        #expect(result.stdout.contains("not a regular file"), "\(result.output)")
        #expect(fileType(device) == .typeCharacterSpecial)
        #expect(try FileManager.default.contentsOfDirectory(atPath: dir) == ["state.db"])
    }

    @Test func stateFilesArePrivateWhateverTheUmask() throws {
        let dir = project()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let file = write(dir, #""web": {"image": "devstack/busybox:1.36"}"#)
        let state = dir + "/state/nested/state.db"
        let script = "umask 000; \"$0\" apply \"$1\" --record-only && \"$0\" export -o \"$2\""
        let result = CLI.run("/bin/sh", ["-c", script, CLI.binary, file, dir + "/out.bundle.json"], environment: ["DEVSTACK_STATE": state])
        #expect(result.code == 0, "\(result.output)")
        #expect(mode(dir + "/state") == 0o700)
        #expect(mode(dir + "/state/nested") == 0o700)
        #expect(mode(state) == 0o600)
        #expect(mode(dir + "/out.bundle.json") == 0o600)
    }

    // MARK: trust

    @Test func aConfigReachedThroughASymlinkOutOfTheProjectIsRefused() throws {
        let dir = project()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        try FileManager.default.createSymbolicLink(atPath: dir + "/passwd", withDestinationPath: "/etc/passwd")
        _ = write(dir, #""web": {"image": "devstack/busybox:1.36", "configs": {"/etc/x": "leak"}}"#,
                  extra: #""configs": {"leak": {"file": "passwd"}},"#)
        let state = dir + "/state.db"
        let result = CLI.devstack(["apply", "env.json", "--record-only"], environment: ["DEVSTACK_STATE": state], cwd: dir)
        #expect(result.code == 2, "\(result.output)")
        #expect(result.stderr == "devstack: error: env.json: configs.leak.file: config file \"passwd\" resolves to /etc/passwd, outside \(LocalPath.real(dir)): the project rule applies to where a symlink points\n")
        #expect(!FileManager.default.fileExists(atPath: state))
    }

    @Test func aSeedFileThroughASymlinkOutOfTheProjectIsRefused() throws {
        let dir = project()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        try FileManager.default.createSymbolicLink(atPath: dir + "/etc", withDestinationPath: "/etc")
        _ = write(dir, #""web": {"image": "devstack/busybox:1.36", "volumes": ["data:/data"]}"#,
                  extra: #""seeds": {"steal": {"volume": "data", "copy": "etc/shadow"}},"#)
        let result = CLI.devstack(["validate", "env.json"], cwd: dir)
        #expect(result.code == 2, "\(result.output)")
        #expect(result.stderr == "devstack: error: env.json: seeds.steal: seed file \"etc/shadow\" resolves to /etc/shadow, outside the project folder \(LocalPath.real(dir)): the project rule applies to where a symlink points\n")
    }

    @Test(arguments: [
        ("/etc/shadow", #"env.json: secrets.pw.fromFile: secret file "/etc/shadow" is outside the project folder: add "outsideProject": true to read it from there"#),
        ("../../../etc/shadow", #"env.json: secrets.pw.fromFile: secret file "../../../etc/shadow" is outside the project folder: add "outsideProject": true to read it from there"#),
    ])
    func secretFilesStayInTheProjectUnlessMarked(path: String, expected: String) {
        let dir = project()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        _ = write(dir, #""web": {"image": "devstack/busybox:1.36", "env": {"PW": {"secret": "pw"}}}"#,
                  extra: #""secrets": {"pw": {"fromFile": ""# + path + #""}},"#)
        let result = CLI.devstack(["validate", "env.json"], cwd: dir)
        #expect(result.code == 2, "\(result.output)")
        #expect(result.stderr == "devstack: error: \(expected)\n")
        // Marked, it is accepted (and shown to whoever imports an export of it).
        _ = write(dir, #""web": {"image": "devstack/busybox:1.36", "env": {"PW": {"secret": "pw"}}}"#,
                  extra: #""secrets": {"pw": {"fromFile": ""# + path + #"", "outsideProject": true}},"#)
        #expect(CLI.devstack(["validate", "env.json"], cwd: dir).code == 0)
    }

    @Test func aSecretFileThroughASymlinkIsRefused() throws {
        let dir = project()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        try FileManager.default.createSymbolicLink(atPath: dir + "/pw", withDestinationPath: "/etc/shadow")
        _ = write(dir, #""web": {"image": "devstack/busybox:1.36", "env": {"PW": {"secret": "pw"}}}"#,
                  extra: #""secrets": {"pw": {"fromFile": "pw"}},"#)
        let result = CLI.devstack(["validate", "env.json"], cwd: dir)
        #expect(result.code == 2, "\(result.output)")
        #expect(result.stderr == "devstack: error: env.json: secrets.pw.fromFile: secret file \"pw\" resolves to /etc/shadow, outside the project folder \(LocalPath.real(dir)): the project rule applies to where a symlink points\n")
    }

    @Test func aHostileBundleIsListedAndRefusedWithoutConsent() throws {
        let dir = project()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let hostile = #"""
            "web": {"image": "devstack/busybox:1.36",
                    "volumes": [{"type": "bind", "source": "/", "target": "/host", "outsideProject": true},
                                {"type": "bind", "source": "/var/run/docker.sock", "target": "/var/run/docker.sock", "outsideProject": true}],
                    "ports": ["0.0.0.0:8080:80"],
                    "env": {"PW": {"secret": "shadow"}}}
            """#
        let file = write(dir, hostile, extra: #""secrets": {"shadow": {"fromFile": "/etc/shadow", "outsideProject": true}},"#)
        let mine = ["DEVSTACK_STATE": dir + "/mine.db"]
        #expect(CLI.devstack(["apply", file, "--record-only"], environment: mine).code == 0)
        #expect(CLI.devstack(["export", "-o", dir + "/hostile.json"], environment: mine).code == 0)

        let theirs = ["DEVSTACK_STATE": dir + "/theirs.db"]
        let refused = CLI.devstack(["import", dir + "/hostile.json"], environment: theirs)
        #expect(refused.code == 2, "\(refused.output)")
        #expect(refused.stderr == """
            \(dir)/hostile.json asks this machine for:
              secrets.shadow.fromFile: reads /etc/shadow from this machine and hands its content to containers
              services.web.ports[0]: publishes container port 80/tcp on 0.0.0.0:8080, reachable from other machines
              services.web.volumes[0]: binds / into /host, which is or holds the Docker engine's socket: full control of this machine's containers, and so of the machine
              services.web.volumes[1]: binds /var/run/docker.sock into /var/run/docker.sock, which is or holds the Docker engine's socket: full control of this machine's containers, and so of the machine
            devstack: error: \(dir)/hostile.json: the bundle asks for 4 host capabilities (listed above); nothing was imported. Read them, then run again with --allow-host-access to accept them

            """)
        #expect(!FileManager.default.fileExists(atPath: dir + "/theirs.db"), "nothing recorded")

        let accepted = CLI.devstack(["import", dir + "/hostile.json", "--allow-host-access"], environment: theirs)
        #expect(accepted.code == 0, "\(accepted.output)")
        let shown = CLI.devstack(["history", "--json"], environment: theirs).stdout
        #expect(shown.contains("hostAccessAccepted"), "\(shown)")
    }

    @Test func anEditedMessageOrAuthorBreaksTheBundleHash() throws {
        let dir = project()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let state = recordedState(dir)
        #expect(CLI.devstack(["export", "-o", dir + "/b.json"], environment: ["DEVSTACK_STATE": state]).code == 0)
        let text = try String(contentsOfFile: dir + "/b.json", encoding: .utf8)
        CLI.write(text.replacingOccurrences(of: "\"message\": \"first\"", with: "\"message\": \"approved by security\""), to: dir + "/edited.json")
        let result = CLI.devstack(["import", dir + "/edited.json"], environment: ["DEVSTACK_STATE": dir + "/other.db"])
        #expect(result.code == 2, "\(result.output)")
        #expect(result.stderr.hasPrefix("devstack: error: \(dir)/edited.json: provenanceHash: hash mismatch"), "\(result.stderr)")
    }

    // MARK: reads and terminals

    @Test func readCommandsLeaveTheDatabaseBytesUnchanged() throws {
        let dir = project()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let state = recordedState(dir)
        let env = ["DEVSTACK_STATE": state]
        func snapshot() -> [String: Data] {
            var out: [String: Data] = [:]
            // The database and its write-ahead log: the shared-memory index is SQLite's scratch space.
            // (A read-only connection may leave an empty log where there was none.)
            for name in ["state.db", "state.db-wal"] {
                out[name] = FileManager.default.contents(atPath: dir + "/state/" + name) ?? Data()
            }
            return out
        }
        let before = snapshot()
        for command in [["history"], ["history", "--json"], ["show"], ["show", "1", "--json"], ["events"], ["doctor"], ["snapshot", "list"], ["graph"],
                        ["status"], ["status", "--json"], ["diff"]] {
            let result = CLI.devstack(command, environment: env)
            #expect(result.code == 0, "\(command): \(result.output)")
        }
        #expect(snapshot() == before)
    }

    @Test func controlCharactersInAMessageCannotForgeAHistoryRow() throws {
        let dir = project()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let file = write(dir, #""web": {"image": "devstack/busybox:1.36"}"#)
        let env = ["DEVSTACK_STATE": dir + "/state.db"]
        let forged = "real\n99   2026-01-01 00:00:00  root    apply   web   \u{1B}[31mforged"
        #expect(CLI.devstack(["apply", file, "--record-only", "-m", forged], environment: env).code == 0)
        let history = CLI.devstack(["history"], environment: env)
        #expect(history.code == 0)
        let lines = history.stdout.split(separator: "\n")
        #expect(lines.count == 2, "\(history.stdout)")
        #expect(lines[1].hasSuffix(#"real\n99   2026-01-01 00:00:00  root    apply   web   \u{1b}[31mforged"#), "\(lines[1])")
    }

    // MARK: CLI conventions

    @Test func globalOptionsWorkBeforeTheSubcommand() throws {
        let dir = project()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let state = recordedState(dir)
        let before = CLI.devstack(["--state", state, "--env", "hard", "--json", "history"])
        #expect(before.code == 0, "\(before.output)")
        let after = CLI.devstack(["history", "--state", state, "--env", "hard", "--json"])
        #expect(before.stdout == after.stdout)
        let revisions = try JSONSerialization.jsonObject(with: Data(before.stdout.utf8)) as? [[String: Any]]
        #expect(revisions?.count == 1)
    }

    @Test func validateJSONReportsProblemsAsJSON() throws {
        let dir = project()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        _ = write(dir, #""web": {"imag": "x"}"#)
        let result = CLI.devstack(["validate", "env.json", "--json"], cwd: dir)
        #expect(result.code == 2)
        let report = try JSONSerialization.jsonObject(with: Data(result.stdout.utf8)) as? [String: Any]
        #expect(report?["valid"] as? Bool == false)
        let problems = report?["problems"] as? [[String: Any]]
        #expect(problems?.count == 2)
        #expect(problems?.first?["path"] as? String == "services.web.imag")
    }

    @Test func showPrintsOnlyTheEnvironmentOnStandardOutput() throws {
        let dir = project()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let state = recordedState(dir)
        let shown = CLI.devstack(["show"], environment: ["DEVSTACK_STATE": state])
        #expect(shown.code == 0)
        #expect(shown.stderr.hasPrefix("revision 1 of hard"))
        CLI.write(shown.stdout, to: dir + "/again/env.json")
        let validated = CLI.devstack(["validate", "env.json", "--json"], cwd: dir + "/again")
        #expect(validated.code == 0, "\(validated.output)")
        let original = CLI.devstack(["show", "--json"], environment: ["DEVSTACK_STATE": state]).stdout
        let hash = (try JSONSerialization.jsonObject(with: Data(original.utf8)) as? [String: Any]).flatMap { ($0["revision"] as? [String: Any])?["specHash"] as? String }
        let again = (try JSONSerialization.jsonObject(with: Data(validated.stdout.utf8)) as? [String: Any])?["specHash"] as? String
        #expect(hash != nil)
        #expect(hash == again)
    }
}

enum LocalPath {
    static func real(_ path: String) -> String {
        guard let resolved = realpath(path, nil) else { return path }
        defer { free(resolved) }
        return String(cString: resolved)
    }
}
