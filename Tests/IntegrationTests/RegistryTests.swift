import Foundation
import Testing
import TestSupport

/// Debian's docker-registry on a loopback port, with TLS from a CA made for the test (openssl)
/// and either htpasswd basic auth (alice / s3cret) or the token flow, with a token service
/// (Fixtures/token-server.py) that checks alice's password and signs JWTs the registry trusts:
/// the real distribution server, not a stand-in.
final class TestRegistry {
    enum Auth { case htpasswd, token }
    let dir: String
    let port: Int
    let process = Process()
    let tokenServer = Process()
    let logPath: String

    var address: String { "127.0.0.1:\(port)" }
    var ca: String { dir + "/ca.pem" }
    /// docker's config folder with alice's password for this registry.
    var dockerConfig: String { dir + "/docker" }

    init(auth: Auth = .htpasswd) throws {
        dir = CLI.temporaryDirectory("devstack-registry")
        logPath = dir + "/registry.log"
        port = Int.random(in: 20000...45000)
        let tokenPort = port + 1
        func sh(_ command: String) throws {
            let result = CLI.run("bash", ["-c", command], cwd: dir)
            guard result.code == 0 else { throw TestFailure("\(command): \(result.output)") }
        }
        try sh("openssl req -x509 -newkey rsa:2048 -nodes -keyout ca.key -out ca.pem -days 2 -subj '/CN=devstack test CA'")
        try sh("openssl req -newkey rsa:2048 -nodes -keyout server.key -out server.csr -subj '/CN=localhost'")
        CLI.write("subjectAltName=DNS:localhost,IP:127.0.0.1\nbasicConstraints=CA:FALSE\nextendedKeyUsage=serverAuth\n", to: dir + "/ext.cnf")
        try sh("openssl x509 -req -in server.csr -CA ca.pem -CAkey ca.key -CAcreateserial -out server.pem -days 2 -extfile ext.cnf")
        let authConfig: String
        switch auth {
        case .htpasswd:
            try sh("htpasswd -Bbn alice s3cret > htpasswd")
            authConfig = "htpasswd: { realm: devstack-test, path: \(dir)/htpasswd }"
        case .token:
            try sh("openssl req -x509 -newkey rsa:2048 -nodes -keyout token.key -out token.pem -days 2 -subj '/CN=devstack test tokens'")
            authConfig = "token: { realm: \"https://127.0.0.1:\(tokenPort)/token\", service: devstack-test, issuer: devstack-test-issuer, rootcertbundle: \(dir)/token.pem }"
            let tokenLog = try FileHandle(forWritingTo: URL(fileURLWithPath: { FileManager.default.createFile(atPath: dir + "/token.log", contents: nil); return dir + "/token.log" }()))
            tokenServer.executableURL = URL(fileURLWithPath: "/usr/bin/env")
            tokenServer.arguments = ["python3", CLI.packageRoot.appendingPathComponent("Tests/IntegrationTests/Fixtures/token-server.py").path, String(tokenPort),
                                     dir + "/server.pem", dir + "/server.key", dir + "/token.key", dir + "/token.pem", "alice:s3cret",
                                     "devstack-test-issuer", "devstack-test"]
            tokenServer.standardOutput = tokenLog
            tokenServer.standardError = tokenLog
            try tokenServer.run()
        }
        CLI.write("""
            version: 0.1
            log: { level: warn, accesslog: { disabled: false } }
            storage: { filesystem: { rootdirectory: \(dir)/data }, delete: { enabled: true } }
            http: { addr: "127.0.0.1:\(port)", tls: { certificate: \(dir)/server.pem, key: \(dir)/server.key } }
            auth: { \(authConfig) }
            """, to: dir + "/config.yml")
        try FileManager.default.createDirectory(atPath: dockerConfig, withIntermediateDirectories: true)
        writeCredentials(password: "s3cret")
        FileManager.default.createFile(atPath: logPath, contents: nil)
        let log = try FileHandle(forWritingTo: URL(fileURLWithPath: logPath))
        process.executableURL = URL(fileURLWithPath: "/usr/bin/docker-registry")
        process.arguments = ["serve", dir + "/config.yml"]
        process.standardOutput = log
        process.standardError = log
        try process.run()
        let deadline = Date().addingTimeInterval(15)
        while Date() < deadline {
            if CLI.run("curl", ["-s", "-o", "/dev/null", "-w", "%{http_code}", "--cacert", ca, "https://\(address)/v2/"]).stdout == "401" { return }
            Thread.sleep(forTimeInterval: 0.2)
        }
        stop()
        throw TestFailure("docker-registry did not answer on \(address)")
    }

    /// What the token service logged ("issued SCOPE" for each token).
    var tokenLog: String { (try? String(contentsOfFile: dir + "/token.log", encoding: .utf8)) ?? "" }

    func writeCredentials(password: String) {
        let auth = Data("alice:\(password)".utf8).base64EncodedString()
        CLI.write("{\"auths\": {\"\(address)\": {\"auth\": \"\(auth)\"}}}", to: dockerConfig + "/config.json")
    }

    /// What devstack needs to reach this registry: credentials, the CA, a cache of its own.
    var env: [String: String] {
        ["DOCKER_CONFIG": dockerConfig, "DEVSTACK_REGISTRY_CA": ca, "DEVSTACK_CACHE": dir + "/cache"]
    }

    /// Completed blob uploads in the registry's access log (the PUT that closes an upload).
    func blobUploads() -> Int {
        let log = (try? String(contentsOfFile: logPath, encoding: .utf8)) ?? ""
        return log.split(separator: "\n").filter { $0.contains("\"PUT /v2/") && $0.contains("/blobs/uploads/") && $0.contains("\" 201 ") }.count
    }

    func stop() {
        for running in [process, tokenServer] where running.isRunning {
            running.terminate()
            let deadline = Date().addingTimeInterval(5)
            while running.isRunning, Date() < deadline { Thread.sleep(forTimeInterval: 0.05) }
            if running.isRunning { kill(running.processIdentifier, SIGKILL) }
            running.waitUntilExit()
        }
        try? FileManager.default.removeItem(atPath: dir)
    }
}

struct TestFailure: Error, CustomStringConvertible {
    var description: String
    init(_ description: String) { self.description = description }
}

/// An environment with a volume holding known bytes, snapshotted as s1.
func snapshotted(_ f: EngineFixture, content: String) -> Bool {
    f.write(#""db": { "image": "devstack/busybox:1.36", "pullPolicy": "never", "command": ["sh", "-c", "while true; do sleep 1; done"], "volumes": ["data:/data"] }"#)
    guard f.devstack(["apply", f.file]).code == 0 else { return false }
    Docker.run(["exec", f.container("db"), "sh", "-c", "echo \(content) > /data/marker && head -c 12000000 /dev/urandom > /data/blob"])
    return f.devstack(["snapshot", "save", "s1"]).code == 0
}

@Suite(.serialized) struct RegistryTests {
    @Test func pushAndPullRoundTripAnEnvironmentWithItsSnapshotAndAnUnchangedSnapshotIsNotUploadedAgain() throws {
        guard Docker.require() else { return }
        let registry = try TestRegistry()
        defer { registry.stop() }
        let f = EngineFixture("push")
        defer { f.tearDown() }
        #expect(snapshotted(f, content: "from-alice"))
        let target = "\(registry.address)/team/\(f.name):v1"
        var pusher = registry.env
        pusher["XDG_CONFIG_HOME"] = f.dir + "/config"
        let key = f.devstack(["key", "generate", "alice"], environment: pusher).stdout.trimmingCharacters(in: .whitespacesAndNewlines)
        #expect(key.hasPrefix("ed25519 ") && key.hasSuffix(" alice"), "\(key)")

        let first = f.devstack(["push", target, "--with-data", "--sign", "alice"], environment: pusher)
        #expect(first.code == 0, "\(first.output)")
        // The empty config, the bundle and the 12 MB archive (sent in chunks).
        #expect(first.stdout.contains("uploaded 3 blob(s)"), "\(first.output)")
        #expect(registry.blobUploads() == 3)
        let digest = try #require(first.stdout.split(separator: "\n").first?.split(separator: "@").last.map(String.init))
        #expect(digest.hasPrefix("sha256:") && digest.count == 71, "\(first.stdout)")

        let second = f.devstack(["push", target, "--with-data", "--sign", "alice"], environment: pusher)
        #expect(second.code == 0, "\(second.output)")
        #expect(second.stdout.contains("uploaded 0 blob(s) (0 B), 3 already there"), "\(second.output)")
        #expect(registry.blobUploads() == 3, "a second push of the same revision uploaded a blob")
        #expect(second.stdout.contains("@\(digest)"), "the same revision pushed twice has the same digest: \(second.stdout)")

        // A teammate's machine: another database, another cache.
        let mate = EngineFixture("pull")
        defer { try? FileManager.default.removeItem(atPath: mate.dir) }
        var mateEnv = registry.env
        mateEnv["DEVSTACK_CACHE"] = mate.dir + "/cache"
        // Signed by a key the teammate does not trust: refused while a trust file exists.
        CLI.write("ed25519 \(String(repeating: "A", count: 43))= stranger\n", to: mate.dir + "/trusted-keys")
        let untrusted = mate.devstack(["pull", "\(registry.address)/team/\(f.name)@\(digest)"], environment: mateEnv)
        #expect(untrusted.code == 2, "\(untrusted.output)")
        #expect(untrusted.stderr.contains("which is not among the keys in trusted-keys; nothing was imported"), "\(untrusted.stderr)")
        CLI.write(key + "\n", to: mate.dir + "/trusted-keys")
        let pull = mate.devstack(["pull", "\(registry.address)/team/\(f.name)@\(digest)"], environment: mateEnv)
        #expect(pull.code == 0, "\(pull.output)")
        #expect(pull.stderr.contains("is signed by alice, key "), "\(pull.stderr)")
        #expect(pull.stdout.contains("as revision 1 of \(f.name)"), "\(pull.output)")
        #expect(pull.stdout.contains("imported snapshot s1 (data)"), "\(pull.output)")
        let mine = f.devstack(["snapshot", "list", "--json"]).stdout
        let theirs = mate.devstack(["snapshot", "list", "--json"]).stdout
        #expect(!mine.isEmpty && mine == theirs, "mine: \(mine)\ntheirs: \(theirs)")
        let against = mate.devstack(["diff", "--against", "oci://\(target)"], environment: mateEnv)
        #expect(against.code == 0, "\(against.output)")
        #expect(against.stdout.hasSuffix("no differences\n"), "\(against.output)")
    }

    @Test func aSnapshotSeedFromTheRegistrySeedsAFreshEnvironmentAndAWrongDigestChangesNothing() throws {
        guard Docker.require() else { return }
        let registry = try TestRegistry()
        defer { registry.stop() }
        let source = EngineFixture("seedsrc")
        defer { source.tearDown() }
        #expect(snapshotted(source, content: "seeded-bytes"))
        let pushed = source.devstack(["push", "\(registry.address)/team/base:v1", "--with-data"], environment: registry.env)
        #expect(pushed.code == 0, "\(pushed.output)")
        let digest = try #require(pushed.stdout.split(separator: "\n").first?.split(separator: "@").last.map(String.init))

        let fresh = EngineFixture("seeded")
        defer { fresh.tearDown() }
        let service = #""db": { "image": "devstack/busybox:1.36", "pullPolicy": "never", "command": ["sh", "-c", "while true; do sleep 1; done"], "volumes": ["data:/data"] }"#
        fresh.write(service, extra: "\"seeds\": {\"base\": {\"volume\": \"data\", \"snapshot\": \"oci://\(registry.address)/team/base@\(digest)\"}},")
        let apply = fresh.devstack(["apply", fresh.file], environment: registry.env)
        #expect(apply.code == 0, "\(apply.output)")
        #expect(Docker.run(["exec", fresh.container("db"), "cat", "/data/marker"]).stdout == "seeded-bytes\n")
        // Pruning keeps what the latest revision seeds from (the manifest and its archive), not the
        // bundle a comparison fetched; --all empties the cache.
        let compared = fresh.devstack(["diff", "--against", "oci://\(registry.address)/team/base@\(digest)", "--env", fresh.name], environment: registry.env)
        #expect(compared.stdout.contains("theirs: oci://\(registry.address)/team/base@\(digest): revision 1"), "\(compared.output)")
        let pruned = fresh.devstack(["cache", "prune"], environment: registry.env)
        #expect(pruned.stdout.hasPrefix("removed 1 blob(s)") && pruned.stdout.contains("; kept 2 "), "\(pruned.output)")
        #expect(fresh.devstack(["cache", "prune", "--all"], environment: registry.env).stdout.hasPrefix("removed 2 blob(s)"))

        let wrong = EngineFixture("wrongdigest")
        defer { wrong.tearDown() }
        let flipped = String(digest.dropLast()) + (digest.hasSuffix("0") ? "1" : "0")
        wrong.write(service, extra: "\"seeds\": {\"base\": {\"volume\": \"data\", \"snapshot\": \"oci://\(registry.address)/team/base@\(flipped)\"}},")
        let refused = wrong.devstack(["apply", wrong.file], environment: registry.env)
        #expect(refused.code == 1, "\(refused.output)")
        #expect(refused.stderr == "devstack: error: seed base: \(registry.address)/team/base: no manifest \(flipped) (was it pushed?); nothing was recorded or changed\n")
        #expect(!FileManager.default.fileExists(atPath: wrong.state), "the wrong digest created a state database")
        #expect(wrong.containers().isEmpty)
    }

    /// The distribution spec's token flow: the registry answers 401 with a Bearer challenge, the
    /// token service checks alice's password and signs a token for exactly the scopes asked.
    @Test func theBearerTokenFlowPushesAndPullsAndAWrongPasswordIsRefusedByTheTokenService() throws {
        guard Docker.require() else { return }
        let registry = try TestRegistry(auth: .token)
        defer { registry.stop() }
        let f = EngineFixture("bearer")
        defer { f.tearDown() }
        f.write(#""web": { "image": "devstack/busybox:1.36", "pullPolicy": "never", "command": ["sleep", "600"] }"#)
        #expect(f.devstack(["apply", f.file, "--record-only"]).code == 0)
        let target = "\(registry.address)/team/bearer:v1"

        let push = f.devstack(["push", target], environment: registry.env)
        #expect(push.code == 0, "\(push.output)\n\(registry.tokenLog)")
        #expect(push.stdout.contains("uploaded 2 blob(s)"), "\(push.output)")
        #expect(registry.tokenLog.contains("issued repository:team/bearer:pull,push"), "\(registry.tokenLog)")
        let against = f.devstack(["diff", "--against", "oci://\(target)"], environment: registry.env)
        #expect(against.stdout.hasSuffix("no differences\n"), "\(against.output)")
        #expect(registry.tokenLog.contains("issued repository:team/bearer:pull\n"), "\(registry.tokenLog)")

        registry.writeCredentials(password: "wrong")
        let denied = f.devstack(["push", target], environment: registry.env)
        #expect(denied.code == 1)
        #expect(denied.stderr == "devstack: error: \(registry.address)'s token service refused the credentials (user alice): check them with docker login \(registry.address)\n")
    }

    @Test func credentialsComeFromDockersHelpersAndWrongOnesOrAnUntrustedCertificateAreClearErrors() throws {
        guard Docker.require() else { return }
        let registry = try TestRegistry()
        defer { registry.stop() }
        let f = EngineFixture("regauth")
        defer { f.tearDown() }
        f.write(#""web": { "image": "devstack/busybox:1.36", "pullPolicy": "never", "command": ["sleep", "600"] }"#)
        #expect(f.devstack(["apply", f.file, "--record-only"]).code == 0)
        let target = "\(registry.address)/team/auth:v1"

        // A credential helper, as docker runs it: `docker-credential-NAME get`, the server on stdin.
        let bin = registry.dir + "/bin"
        try FileManager.default.createDirectory(atPath: bin, withIntermediateDirectories: true)
        CLI.write("#!/bin/sh\nread server\n[ \"$server\" = \"\(registry.address)\" ] || { echo 'credentials not found in native keychain'; exit 1; }\necho '{\"ServerURL\": \"'$server'\", \"Username\": \"alice\", \"Secret\": \"s3cret\"}'\n",
                  to: bin + "/docker-credential-teamvault")
        #expect(chmod(bin + "/docker-credential-teamvault", 0o755) == 0)
        CLI.write("{\"auths\": {\"\(registry.address)\": {}}, \"credHelpers\": {\"\(registry.address)\": \"teamvault\"}}", to: registry.dockerConfig + "/config.json")
        var helped = registry.env
        helped["PATH"] = bin + ":" + (ProcessInfo.processInfo.environment["PATH"] ?? "/usr/bin:/bin")
        let pushed = f.devstack(["push", target], environment: helped)
        #expect(pushed.code == 0, "\(pushed.output)")
        #expect(registry.blobUploads() == 2)

        registry.writeCredentials(password: "wrong")
        let denied = f.devstack(["push", target], environment: registry.env)
        #expect(denied.code == 1)
        #expect(denied.stderr == "devstack: error: \(registry.address) refused the credentials (user alice): check them with docker login \(registry.address)\n")

        var untrusting = registry.env
        untrusting["DEVSTACK_REGISTRY_CA"] = ""
        let untrusted = f.devstack(["pull", target], environment: untrusting)
        #expect(untrusted.code == 1)
        #expect(untrusted.stderr.hasPrefix("devstack: error: cannot reach \(registry.address): its TLS certificate is not trusted (certificate verify failed); pass --ca"), "\(untrusted.stderr)")
        #expect(registry.blobUploads() == 2)
    }
}
