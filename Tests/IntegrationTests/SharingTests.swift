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
        #expect(converted.stderr.contains("compose.yml: services.web.container_name: ignored"), "\(converted.stderr)")
        #expect(f.devstack(["validate", "env.json"]).code == 0)
        let up = f.devstack(["apply", "compose.yml"])
        #expect(up.code == 0, "\(up.output)")
        #expect(f.containers() == [f.container("web"), f.container("worker")])
        #expect(f.devstack(["apply", "env.json"]).stdout.contains("no changes"), "the file and the compose file are the same desired state")
        let broken = f.devstack(["import-compose", "missing.yml"])
        #expect(broken.code == 2 && broken.stderr.contains("missing.yml: cannot read the file"), "\(broken.output)")
    }
}
