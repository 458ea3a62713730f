import Foundation
import Testing
import TestSupport

/// Partial environments and bisect against the real dockerd.
@Suite(.serialized) struct SharingTests {
    @Test func applyOnlyStartsExactlyTheClosure() {
        guard Docker.require() else { return }
        let f = EngineFixture("only")
        defer { f.tearDown() }
        f.write(webAndWorker + """
            , "db": { "image": "devstack/busybox:1.36", "command": ["sleep", "300"], "volumes": ["dbdata:/d"] },
            "api": { "image": "devstack/busybox:1.36", "command": ["sleep", "300"], "dependsOn": ["db"] },
            "front": { "image": "devstack/busybox:1.36", "command": ["sleep", "300"], "dependsOn": ["api"] }
            """, extra: "\"seeds\": {\"db-seed\": {\"service\": \"db\", \"exec\": [\"touch\", \"/d/seeded\"]}, \"web-seed\": {\"service\": \"web\", \"exec\": [\"true\"]}},")
        let only = f.devstack(["apply", f.file, "--only", "api"])
        #expect(only.code == 0, "\(only.output)")
        #expect(f.containers() == [f.container("api"), f.container("db")], "api and its dependency, nothing else")
        #expect(only.stdout.contains("seed db-seed: ran") && !only.stdout.contains("web-seed"), "\(only.stdout)")
        #expect(f.inspect("\(f.name)-data", "{{.Name}}") == nil, "the worker's volume is not created")
        // The rest comes up on a full apply, and --only leaves what is outside its closure alone.
        #expect(f.devstack(["apply", f.file]).code == 0)
        #expect(f.containers().count == 5)
        let web = f.inspect(f.container("web"), "{{.Id}}")
        #expect(f.devstack(["apply", f.file, "--only", "front"]).code == 0)
        #expect(f.inspect(f.container("web"), "{{.Id}}") == web)
        #expect(f.devstack(["apply", f.file, "--only", "frnot"]).stderr.contains("no service named \"frnot\" (did you mean \"front\"?)"))
    }

    @Test func bisectFindsAPlantedBadRevisionAmongEight() {
        guard Docker.require() else { return }
        let f = EngineFixture("bisect")
        defer { f.tearDown() }
        for i in 1...8 {
            let mode = i < 5 ? "good-\(i)" : "bad-\(i)"
            f.write(webAndWorker.replacingOccurrences(of: "\"MODE\": \"dev\"", with: "\"MODE\": \"\(mode)\""))
            #expect(f.devstack(["apply", f.file, "--record-only", "-m", "change \(i)"]).code == 0)
        }
        #expect(f.devstack(["apply", f.file]).code == 0)
        let test = ["docker", "exec", f.container("web"), "sh", "-c", "case \"$MODE\" in good*) exit 0;; *) exit 1;; esac"]
        let result = f.devstack(["bisect", "1", "8", "--"] + test)
        #expect(result.code == 0, "\(result.output)")
        #expect(result.stdout.contains("first bad revision: 5"), "\(result.stdout)")
        #expect(result.stdout.contains("env.MODE: \"good-4\" → \"bad-5\""), "\(result.stdout)")
        let steps = result.stdout.split(separator: "\n").filter { $0.hasPrefix("revision ") }
        #expect(steps.count <= 3, "\(steps)")
        #expect(f.inspect(f.container("web"), "{{json .Config.Env}}")?.contains("MODE=bad-8") == true, "converged back to where it was")
        #expect(f.devstack(["history", "--json"]).stdout.components(separatedBy: "\"number\"").count == 9, "bisect records no revision")
    }

    @Test func aComposeFileIsImportedAndAppliedDirectly() throws {
        guard Docker.require() else { return }
        let f = EngineFixture("compose")
        defer { f.tearDown() }
        let compose = """
            name: \(f.name)
            services:
              web:
                image: devstack/busybox:1.36
                command: httpd -f -p 80 -h /www
                healthcheck:
                  test: ["CMD", "wget", "-q", "-O", "/dev/null", "http://127.0.0.1/"]
                  interval: 1s
                container_name: ignored-name
              worker:
                image: devstack/busybox:1.36
                command: ["sh", "-c", "while true; do sleep 1; done"]
                depends_on:
                  web:
                    condition: service_healthy
                volumes: ["data:/data"]
            volumes:
              data:
            """
        CLI.write(compose, to: "\(f.dir)/compose.yml")
        let converted = f.devstack(["import-compose", "compose.yml", "-o", "env.json"])
        #expect(converted.code == 0, "\(converted.output)")
        #expect(converted.stderr.contains("compose.yml:9:21: services.web.container_name: devstack names containers ENV-SERVICE"), "\(converted.stderr)")
        #expect(f.devstack(["validate", "env.json"]).code == 0)
        let up = f.devstack(["apply", "compose.yml"])
        #expect(up.code == 0, "\(up.output)")
        #expect(f.containers() == [f.container("web"), f.container("worker")])
        #expect(f.devstack(["apply", "env.json"]).stdout.contains("no changes"), "the file and the compose file are the same desired state")
        let broken = f.devstack(["import-compose", "missing.yml"])
        #expect(broken.code == 2 && broken.stderr.contains("missing.yml: cannot read the file"), "\(broken.output)")
    }

    @Test func aLockedImportRunsTheOldDigestAfterTheTagMovedAndDiffAgainstShowsWhy() throws {
        guard Docker.require() else { return }
        let registry = try LocalRegistry()
        defer { registry.stop() }
        let f = EngineFixture("lock")
        defer { f.tearDown() }
        let image = "\(registry.address)/devstack-test/\(f.name):1"
        defer { Docker.run(["rmi", "-f", image]) }
        func publish(_ version: String) {
            CLI.write("FROM devstack/busybox:1.36\nRUN echo \(version) > /version\n", to: "\(f.dir)/img/Dockerfile")
            let build = Docker.run(["build", "-q", "-t", image, "\(f.dir)/img"])
            #expect(build.code == 0, "\(build.output)")
            let push = Docker.run(["push", image])
            #expect(push.code == 0, "\(push.output)")
        }
        func running() -> String { Docker.run(["exec", f.container("app"), "cat", "/version"]).stdout.trimmingCharacters(in: .whitespacesAndNewlines) }
        func write(mode: String) {
            f.write("\"app\": {\"image\": \"\(image)\", \"pullPolicy\": \"always\", \"command\": [\"sleep\", \"300\"], \"env\": {\"MODE\": \"\(mode)\"}}")
        }
        publish("one")
        write(mode: "dev")
        #expect(f.devstack(["apply", f.file]).code == 0)
        #expect(running() == "one")
        #expect(f.devstack(["export", "-o", "\(f.dir)/bundle.json"]).code == 0)
        let bundle = try String(contentsOfFile: "\(f.dir)/bundle.json", encoding: .utf8)
        #expect(bundle.contains("\"formatVersion\": 3") && bundle.contains("@sha256:"), "the bundle carries the lock")

        // A teammate: a fresh database, the same engine.
        let teammate = ["DEVSTACK_STATE": "\(f.dir)/teammate/state.db"]
        let imported = f.devstack(["import", "\(f.dir)/bundle.json"], environment: teammate)
        #expect(imported.code == 0 && imported.stdout.contains("locked 1 image(s)"), "\(imported.output)")
        #expect(f.devstack(["apply", f.file.replacingOccurrences(of: "env.json", with: "bundle.json"), "--record-only"], environment: teammate).code != 0,
                "a bundle is not an environment file")
        let teammateUp = f.devstack(["rollback", "1"], environment: teammate)
        #expect(teammateUp.code == 0, "\(teammateUp.output)")
        let same = f.devstack(["diff", "--against", "\(f.dir)/bundle.json"], environment: teammate)
        #expect(same.code == 0 && same.stdout.contains("no differences"), "\(same.output)")

        // The tag moves. The locked, imported revision keeps the old digest.
        publish("two")
        let locked = f.devstack(["apply", f.file, "--locked"], environment: teammate)
        #expect(locked.code == 0, "\(locked.output)")
        #expect(running() == "one", "a locked apply runs the recorded digest")
        // An unlocked apply takes the new image and says the tag moved.
        let unlocked = f.devstack(["apply", f.file])
        #expect(unlocked.code == 0, "\(unlocked.output)")
        #expect(unlocked.stderr.contains("the tag \(image) moved"), "\(unlocked.output)")
        #expect(running() == "two")

        // One changed env var and the moved digest: exactly one line each.
        write(mode: "prod")
        #expect(f.devstack(["apply", f.file]).code == 0)
        let why = f.devstack(["diff", "--against", "\(f.dir)/bundle.json"])
        #expect(why.code == 0, "\(why.output)")
        let lines = why.stdout.split(separator: "\n").map(String.init)
        #expect(lines.filter { $0.contains("env.MODE") }.count == 1 && lines.contains("service app: env.MODE: \"prod\" → \"dev\""), "\(why.stdout)")
        #expect(lines.filter { $0.contains("image digest") }.count == 1, "\(why.stdout)")
        #expect(why.stdout.contains("2 difference(s)"), "\(why.stdout)")
        let json = f.devstack(["diff", "--against", "\(f.dir)/bundle.json", "--json"])
        #expect(json.stdout.contains("\"field\" : \"image digest\""), "\(json.stdout)")
    }
}

/// Debian's docker-registry on a loopback port, storing into a temporary folder.
final class LocalRegistry {
    let process = Process()
    let address: String
    let directory = CLI.temporaryDirectory("devstack-registry")

    init() throws {
        let port = try TCPListener.freePort()
        address = "127.0.0.1:\(port)"
        CLI.write("version: 0.1\nstorage:\n  filesystem:\n    rootdirectory: \(directory)/data\nhttp:\n  addr: \(address)\n", to: "\(directory)/config.yml")
        process.executableURL = URL(fileURLWithPath: "/usr/bin/docker-registry")
        process.arguments = ["serve", "\(directory)/config.yml"]
        process.standardOutput = FileHandle.nullDevice
        process.standardError = FileHandle.nullDevice
        do { try process.run() } catch {
            Issue.record("cannot start /usr/bin/docker-registry (install Debian's docker-registry; scripts/setup does): \(error)")
            throw error
        }
        let up = eventually(20) { CLI.run("wget", ["-q", "-O", "-", "http://\(self.address)/v2/"]).code == 0 }
        #expect(up, "the registry did not answer on \(address)")
    }

    func stop() {
        process.terminate()
        process.waitUntilExit()
        try? FileManager.default.removeItem(atPath: directory)
    }
}
