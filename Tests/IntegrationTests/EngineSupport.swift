import Foundation
import Testing
import TestSupport

/// A throwaway environment on the real dockerd: its own name, state database and folder.
struct EngineFixture {
    let name: String
    let dir: String
    let state: String

    init(_ label: String) {
        name = "it-\(label)-\(UUID().uuidString.prefix(6).lowercased())"
        dir = CLI.temporaryDirectory("devstack-it")
        state = dir + "/state.db"
    }

    var env: [String: String] { ["DEVSTACK_STATE": state] }
    var file: String { dir + "/env.json" }

    /// Writes env.json with `services` (a JSON object's body).
    func write(_ services: String, extra: String = "") {
        CLI.write("{\"name\": \"\(name)\", \(extra) \"services\": {\(services)}}", to: file)
    }

    @discardableResult
    func devstack(_ arguments: [String], environment: [String: String] = [:]) -> CLIResult {
        CLI.devstack(arguments, environment: env.merging(environment) { $1 }, cwd: dir)
    }

    func tearDown() {
        devstack(["down", "--volumes"])
        try? FileManager.default.removeItem(atPath: dir)
    }

    func container(_ service: String) -> String { "\(name)-\(service)" }

    /// Removes every tag of the image devstack built for `service`.
    func removeBuiltImages(_ service: String) {
        for tag in Docker.run(["images", "--filter", "reference=devstack/\(name)-\(service)", "--format", "{{.Repository}}:{{.Tag}}"]).stdout.split(separator: "\n") {
            Docker.run(["rmi", "-f", String(tag)])
        }
    }

    /// Copies examples/edx-lite into the fixture's folder under the fixture's name. Needs the
    /// MariaDB test image; records an issue and returns false when it is missing.
    func copyExample() throws -> Bool {
        guard Docker.run(["image", "inspect", "devstack/mariadb:10.11"]).code == 0 else {
            Issue.record("devstack/mariadb:10.11 is missing: run scripts/build-test-images")
            return false
        }
        let source = CLI.packageRoot.appendingPathComponent("examples/edx-lite")
        for item in try FileManager.default.contentsOfDirectory(atPath: source.path) {
            try FileManager.default.copyItem(atPath: source.appendingPathComponent(item).path, toPath: "\(dir)/\(item)")
        }
        let text = try String(contentsOfFile: file, encoding: .utf8).replacingOccurrences(of: "\"name\": \"edx-lite\"", with: "\"name\": \"\(name)\"")
        CLI.write(text, to: file)
        return true
    }

    /// `SELECT COUNT(*) FROM courses` in the example's MariaDB.
    func courses() -> String {
        Docker.run(["exec", container("mariadb"), "mysql", "edxapp", "-N", "-e", "SELECT COUNT(*) FROM courses"]).stdout.trimmingCharacters(in: .whitespacesAndNewlines)
    }

    /// `docker inspect -f FORMAT NAME`, trimmed; nil when there is no such object.
    func inspect(_ object: String, _ format: String) -> String? {
        let r = Docker.run(["inspect", "-f", format, object])
        return r.code == 0 ? r.stdout.trimmingCharacters(in: .whitespacesAndNewlines) : nil
    }

    /// Names of containers labelled for this environment.
    func containers() -> [String] {
        Docker.run(["ps", "-a", "--filter", "label=dev.devstack.env=\(name)", "--format", "{{.Names}}"]).stdout
            .split(separator: "\n").map(String.init).sorted()
    }
}

enum Docker {
    @discardableResult
    static func run(_ arguments: [String]) -> CLIResult { CLI.run("docker", arguments) }

    /// Integration tests need dockerd. Its absence is a failure, never a silent skip.
    static func require() -> Bool {
        let info = run(["info", "--format", "{{.ServerVersion}}"])
        if info.code != 0 {
            Issue.record("dockerd is not reachable (\(info.stderr.trimmingCharacters(in: .whitespacesAndNewlines))): start it, e.g. with bash scripts/setup")
            return false
        }
        if run(["image", "inspect", "devstack/busybox:1.36"]).code != 0 {
            Issue.record("the test image devstack/busybox:1.36 is missing: run scripts/build-test-images")
            return false
        }
        return true
    }
}

/// A web service with a health check and a worker that waits for it: quick to start and stop.
let webAndWorker = """
    "web": { "image": "devstack/busybox:1.36", "pullPolicy": "never", "command": ["httpd", "-f", "-p", "80", "-h", "/www"],
             "env": { "MODE": "dev" },
             "healthcheck": { "command": ["wget", "-q", "-O", "/dev/null", "http://127.0.0.1/"], "interval": "1s", "retries": 10 } },
    "worker": { "image": "devstack/busybox:1.36", "pullPolicy": "never", "command": ["sh", "-c", "while true; do sleep 1; done"],
                "volumes": ["data:/data"], "dependsOn": { "web": "healthy" } }
    """
