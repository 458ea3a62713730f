import Foundation
import Testing
import TestSupport

/// Signed bundles through the CLI: `key generate`, `export --sign`, and `import` against a
/// trusted-keys file in the folder it runs in.
@Suite struct SigningTests {
    struct Setup {
        let dir: String
        let env: [String: String]
        let signed: String
        let plain: String
        let publicLine: String
    }

    static func setup() throws -> Setup {
        let dir = CLI.temporaryDirectory("devstack-sign")
        let env = ["DEVSTACK_STATE": dir + "/mine.db", "XDG_CONFIG_HOME": dir + "/config"]
        CLI.write(#"{"name": "signed", "services": {"web": {"image": "devstack/busybox:1.36"}}}"#, to: dir + "/env.json")
        #expect(CLI.devstack(["apply", "env.json", "--record-only", "-m", "release 7"], environment: env, cwd: dir).code == 0)
        let generated = CLI.devstack(["key", "generate", "ada"], environment: env, cwd: dir)
        #expect(generated.code == 0, "\(generated.output)")
        let mode = try FileManager.default.attributesOfItem(atPath: dir + "/config/devstack/keys/ada.key")[.posixPermissions] as? Int
        #expect(mode == 0o600)
        #expect(CLI.devstack(["export", "-o", "signed.json", "--sign", "ada"], environment: env, cwd: dir).code == 0)
        #expect(CLI.devstack(["export", "-o", "plain.json"], environment: env, cwd: dir).code == 0)
        return Setup(dir: dir, env: env, signed: dir + "/signed.json", plain: dir + "/plain.json",
                     publicLine: generated.stdout.trimmingCharacters(in: .whitespacesAndNewlines))
    }

    /// Imports `bundle` into a fresh database from a folder holding `trusted` as its trusted-keys file.
    static func importing(_ bundle: String, trusted: String?, _ extra: [String] = []) -> CLIResult {
        let dir = CLI.temporaryDirectory("devstack-sign-import")
        if let trusted { CLI.write(trusted, to: dir + "/trusted-keys") }
        return CLI.devstack(["import", bundle] + extra, environment: ["DEVSTACK_STATE": dir + "/theirs.db"], cwd: dir)
    }

    @Test func aBundleSignedByATrustedKeyImports() throws {
        let s = try Self.setup()
        #expect(s.publicLine.hasPrefix("ed25519 ") && s.publicLine.hasSuffix(" ada"))
        let result = Self.importing(s.signed, trusted: "# the team\n\(s.publicLine)\n")
        #expect(result.code == 0, "\(result.output)")
        #expect(result.stderr.contains("is signed by ada, key "), "\(result.stderr)")
        let signed = try String(contentsOfFile: s.signed, encoding: .utf8)
        #expect(signed.hasSuffix("\"}\n}\n") && signed.contains(",\n  \"signature\": {\"algorithm\": \"ed25519\", \"key\": \""))
    }

    @Test func oneChangedByteUnknownKeysAndUnsignedBundlesAreRefusedWhileATrustFileExists() throws {
        let s = try Self.setup()
        let trust = s.publicLine + "\n"
        // The revision's message is provenance: "release 7" becomes "release 8".
        var bytes = try Data(contentsOf: URL(fileURLWithPath: s.signed))
        let text = String(decoding: bytes, as: UTF8.self)
        let at = text.utf8.count - text.components(separatedBy: "release 7")[1...].joined(separator: "release 7").utf8.count - 1
        bytes[at] = UInt8(ascii: "8")
        try bytes.write(to: URL(fileURLWithPath: s.dir + "/tampered.json"))
        let tampered = Self.importing(s.dir + "/tampered.json", trusted: trust)
        #expect(tampered.code == 2)
        #expect(tampered.stderr.contains("does not match its content: it was changed after it was signed"), "\(tampered.stderr)")
        // Refused even without a trust file: a signature that does not match is never accepted.
        #expect(Self.importing(s.dir + "/tampered.json", trusted: nil).code == 2)

        // Signed by a key nobody trusts here.
        let other = CLI.devstack(["key", "generate", "eve", "-o", s.dir + "/eve.key"], environment: s.env, cwd: s.dir)
        #expect(CLI.devstack(["export", "-o", "eve.json", "--sign", s.dir + "/eve.key"], environment: s.env, cwd: s.dir).code == 0)
        let unknown = Self.importing(s.dir + "/eve.json", trusted: trust)
        #expect(unknown.code == 2)
        #expect(unknown.stderr.contains("which is not among the keys in trusted-keys; nothing was imported"), "\(unknown.stderr)")
        #expect(Self.importing(s.dir + "/eve.json", trusted: trust, ["--trust", other.stdout.trimmingCharacters(in: .whitespacesAndNewlines)]).code == 0)

        // Unsigned: refused while trusted keys are set, unless asked for.
        let unsigned = Self.importing(s.plain, trusted: trust)
        #expect(unsigned.code == 2)
        #expect(unsigned.stderr.contains("is not signed, and trusted-keys lists the keys bundles must be signed with"), "\(unsigned.stderr)")
        #expect(Self.importing(s.plain, trusted: trust, ["--allow-unsigned"]).code == 0)
        // Without a trust file, both import, and the signer is named by its fingerprint.
        #expect(Self.importing(s.plain, trusted: nil).code == 0)
        let untrusted = Self.importing(s.signed, trusted: nil)
        #expect(untrusted.code == 0)
        #expect(untrusted.stderr.contains("no trusted-keys file here says whose it is"))
    }

    @Test func keysAreNeverWrittenOverAndABrokenTrustFileIsNamed() throws {
        let s = try Self.setup()
        let again = CLI.devstack(["key", "generate", "ada"], environment: s.env, cwd: s.dir)
        #expect(again.code == 2)
        #expect(again.stderr.contains("already exists: devstack never writes over a key"))
        let broken = Self.importing(s.signed, trusted: "\(s.publicLine)\nssh-rsa AAAA bob\n")
        #expect(broken.code == 2)
        #expect(broken.stderr.contains("trusted-keys:2: expected a key as \"ed25519 BASE64 NAME\""), "\(broken.stderr)")
    }
}
