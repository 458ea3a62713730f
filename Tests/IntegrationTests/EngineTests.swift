import Foundation
import Testing
import TestSupport

/// The reconciler against the real dockerd. These fail, never skip, when dockerd is absent.
@Suite(.serialized) struct EngineTests {
    @Test func applyFromScratchThenANoOpApplyTouchesNothing() throws {
        guard Docker.require() else { return }
        let f = EngineFixture("scratch")
        defer { f.tearDown() }
        f.write(webAndWorker)
        let first = f.devstack(["apply", f.file])
        #expect(first.code == 0, "\(first.output)")
        #expect(f.containers() == [f.container("web"), f.container("worker")])
        #expect(f.inspect(f.container("web"), "{{.State.Running}}") == "true")
        #expect(f.inspect(f.container("worker"), "{{index .Config.Labels \"dev.devstack.service\"}}") == "worker")
        #expect(f.inspect("\(f.name)-data", "{{.Name}}") == "\(f.name)-data")
        // Services reach each other by name on the environment's network.
        let reach = Docker.run(["exec", f.container("worker"), "wget", "-q", "-O", "-", "http://web/"])
        #expect(reach.stdout.contains("devstack test page"), "\(reach.output)")

        let since = String(format: "%.3f", Date().timeIntervalSince1970)
        func databaseBytes() -> [Data] {
            ["state.db", "state.db-wal"].map { FileManager.default.contents(atPath: f.dir + "/" + $0) ?? Data() }
        }
        let before = databaseBytes()
        let second = f.devstack(["apply", f.file])
        #expect(second.code == 0, "\(second.output)")
        #expect(second.stdout.contains("nothing to do"))
        // Not even the lease is written: the database's bytes are as they were.
        #expect(databaseBytes() == before)
        let until = String(format: "%.3f", Date().timeIntervalSince1970 + 0.5)
        let events = Docker.run(["events", "--since", since, "--until", until, "--filter", "label=dev.devstack.env=\(f.name)",
                                 "--filter", "type=container", "--format", "{{.Action}}"])
        let actions = events.stdout.split(separator: "\n").filter { !$0.hasPrefix("exec_") && !$0.hasPrefix("health_status") }
        #expect(actions.isEmpty, "a no-op apply changed containers: \(actions)")

        let status = f.devstack(["status", "--json"])
        let report = try JSONSerialization.jsonObject(with: Data(status.stdout.utf8)) as? [String: Any]
        let services = report?["services"] as? [[String: Any]] ?? []
        #expect(services.map { $0["state"] as? String } == ["running", "running"])
        #expect(services.allSatisfy { $0["drift"] == nil })
    }

    @Test func changingOneEnvValueRecreatesExactlyThatContainer() {
        guard Docker.require() else { return }
        let f = EngineFixture("recreate")
        defer { f.tearDown() }
        f.write(webAndWorker)
        #expect(f.devstack(["apply", f.file]).code == 0)
        let web = f.inspect(f.container("web"), "{{.Id}}"), worker = f.inspect(f.container("worker"), "{{.Id}}")
        f.write(webAndWorker.replacingOccurrences(of: "\"MODE\": \"dev\"", with: "\"MODE\": \"prod\""))
        let diff = f.devstack(["diff", "-f", f.file])
        #expect(diff.stdout.contains("~ recreate web (spec changed: env.MODE)"), "\(diff.output)")
        #expect(diff.stdout.components(separatedBy: "\n").filter { $0.hasPrefix("~") || $0.hasPrefix("+") || $0.hasPrefix("-") }.count == 1)
        let result = f.devstack(["apply", f.file])
        #expect(result.code == 0, "\(result.output)")
        #expect(f.inspect(f.container("web"), "{{.Id}}") != web)
        #expect(f.inspect(f.container("worker"), "{{.Id}}") == worker)
        #expect(f.inspect(f.container("web"), "{{json .Config.Env}}")?.contains("MODE=prod") == true)

        // Rollback restores the earlier spec.
        let rollback = f.devstack(["rollback", "1"])
        #expect(rollback.code == 0, "\(rollback.output)")
        #expect(f.inspect(f.container("web"), "{{json .Config.Env}}")?.contains("MODE=dev") == true)
        #expect(f.devstack(["history"]).stdout.contains("rollback"))
    }

    /// A changed container's successor is created while it stops (under the name it gave up) and
    /// started once it has: on the real engine the host port and the volume pass from one to the
    /// other, the config file is in place before the program starts, and nothing stays behind.
    @Test func aReplacementTakesOverThePortTheVolumeAndTheNameAndLeavesNothingBehind() throws {
        guard Docker.require() else { return }
        let f = EngineFixture("replace")
        defer { f.tearDown() }
        let port = try TCPListener.freePort()
        func write(_ mode: String) {
            f.write("""
                "web": {"image": "devstack/busybox:1.36", "pullPolicy": "never", "init": true, "env": {"MODE": "\(mode)"},
                        "ports": ["127.0.0.1:\(port):8080"], "volumes": ["data:/data"], "configs": {"/www/index.html": "page"},
                        "command": ["sh", "-c", "echo $MODE >> /data/log; cat /www/index.html >> /data/log; echo >> /data/log; exec httpd -f -p 8080 -h /www"]}
                """, extra: "\"configs\": {\"page\": {\"content\": \"page-\(mode)\"}},")
        }
        write("one")
        let first = f.devstack(["apply", f.file])
        #expect(first.code == 0, "\(first.output)")
        let oldID = f.inspect(f.container("web"), "{{.Id}}")
        write("two")
        let second = f.devstack(["apply", f.file])
        #expect(second.code == 0, "\(second.output)")
        #expect(second.stdout.contains("(1 recreated)"), "\(second.output)")
        #expect(f.containers() == [f.container("web")])
        #expect(f.inspect(f.container("web"), "{{.Id}}") != oldID)
        #expect(f.inspect(f.container("web"), "{{.State.Running}}") == "true")
        #expect(Docker.run(["exec", f.container("web"), "cat", "/data/log"]).stdout == "one\npage-one\ntwo\npage-two\n")
        let page = CLI.run("wget", ["-q", "-O", "-", "http://127.0.0.1:\(port)/"])
        #expect(page.stdout == "page-two", "\(page.output)")
        #expect(f.devstack(["diff", "-f", f.file]).stdout.contains("no changes"))
    }

    /// Without --parallel, an apply runs at the level the engine's measured throughput chooses:
    /// a first apply wide enough to keep eight operations in flight is measured, and doctor says
    /// that the next one tries twelve.
    @Test func anApplyWithoutParallelIsMeasuredAndTheNextOneTriesTheLevelAbove() throws {
        guard Docker.require() else { return }
        let f = EngineFixture("tune")
        defer { f.tearDown() }
        f.write((0..<20).map { "\"s\($0)\": {\"image\": \"devstack/busybox:1.36\", \"pullPolicy\": \"never\", \"init\": true, \"command\": [\"sleep\", \"3600\"]}" }
            .joined(separator: ", "))
        let before = f.devstack(["doctor"])
        #expect(!before.stdout.contains("parallelism"), "\(before.output)")
        let applied = f.devstack(["apply", f.file])
        #expect(applied.code == 0, "\(applied.output)")
        let doctor = f.devstack(["doctor"])
        let line = doctor.stdout.split(separator: "\n").first { $0.contains("parallelism:") }.map(String.init) ?? ""
        #expect(line.hasPrefix("ok      parallelism: unix:///var/run/docker.sock: 8 at once "), "\(doctor.output)")
        #expect(line.hasSuffix(" operations/s; apply runs 12 at once (trying 12: 8 is the fastest measured)"), "\(doctor.output)")
    }

    /// The same with `devstack fsmonitor` answering for the state database: what it vouches for
    /// is not walked, and a one-byte change is still noticed.
    @Test(arguments: [false, true]) func imagesAreBuiltFromTheirContextOnlyWhenItChanges(monitored: Bool) throws {
        guard Docker.require() else { return }
        let f = EngineFixture(monitored ? "buildmon" : "build")
        let monitor = monitored ? try BackgroundServer([CLI.binary, "fsmonitor"], log: f.dir + "/fsmonitor.log", environment: f.env) : nil
        defer { monitor?.stop() }
        if let monitor {
            #expect(monitor.wait(seconds: 20) { monitor.output.contains("answering at \(f.state).fsmonitor") }, "\(monitor.output)")
        }
        defer {
            f.tearDown()
            f.removeBuiltImages("app")
        }
        CLI.write("FROM devstack/busybox:1.36\nCOPY . /ctx/\n", to: "\(f.dir)/app/Dockerfile")
        CLI.write("hello\n", to: "\(f.dir)/app/greeting.txt")
        CLI.write("*.log\nsecrets/\n", to: "\(f.dir)/app/.dockerignore")
        CLI.write("noise\n", to: "\(f.dir)/app/debug.log")
        CLI.write("key\n", to: "\(f.dir)/app/secrets/key.pem")
        f.write("\"app\": {\"build\": \"./app\", \"command\": [\"sleep\", \"300\"]}")
        let first = f.devstack(["apply", f.file])
        #expect(first.code == 0, "\(first.output)")
        #expect(first.stdout.contains("built"), "\(first.stdout)")
        #expect(Docker.run(["exec", f.container("app"), "cat", "/ctx/greeting.txt"]).stdout == "hello\n")
        #expect(Docker.run(["exec", f.container("app"), "ls", "-A", "/ctx"]).stdout == ".dockerignore\nDockerfile\ngreeting.txt\n",
                "what .dockerignore names is never sent to the engine")
        let again = f.devstack(["apply", f.file])
        #expect(again.stdout.contains("nothing to do"), "an unchanged context must not rebuild: \(again.stdout)")
        CLI.write("more noise\n", to: "\(f.dir)/app/debug.log")
        #expect(f.devstack(["apply", f.file]).stdout.contains("nothing to do"), "an ignored file is not part of the context")
        // One byte, same size, within the same second as the last apply: still noticed.
        CLI.write("hellO\n", to: "\(f.dir)/app/greeting.txt")
        let changed = f.devstack(["apply", f.file])
        #expect(changed.code == 0, "\(changed.output)")
        #expect(Docker.run(["exec", f.container("app"), "cat", "/ctx/greeting.txt"]).stdout == "hellO\n")
        #expect(f.devstack(["apply", f.file]).stdout.contains("nothing to do"))
        if let monitor {
            monitor.stop()
            #expect(access(f.state + ".fsmonitor", F_OK) != 0, "the monitor removes its socket when it stops")
            #expect(f.devstack(["apply", f.file]).stdout.contains("nothing to do"), "without the monitor, applies walk as before")
        }
    }

    @Test func namedVolumesSurviveARecreate() {
        guard Docker.require() else { return }
        let f = EngineFixture("volume")
        defer { f.tearDown() }
        f.write(webAndWorker)
        #expect(f.devstack(["apply", f.file]).code == 0)
        Docker.run(["exec", f.container("worker"), "sh", "-c", "echo kept > /data/file"])
        #expect(f.inspect("\(f.name)-data", "{{index .Labels \"dev.devstack.env\"}}") == f.name)
        f.write(webAndWorker.replacingOccurrences(of: "while true; do sleep 1; done", with: "while true; do sleep 2; done"))
        #expect(f.devstack(["apply", f.file]).code == 0)
        #expect(Docker.run(["exec", f.container("worker"), "cat", "/data/file"]).stdout == "kept\n")
    }

    @Test func removingAServiceRemovesItsContainer() {
        guard Docker.require() else { return }
        let f = EngineFixture("remove")
        defer { f.tearDown() }
        f.write(webAndWorker)
        #expect(f.devstack(["apply", f.file]).code == 0)
        f.write(webAndWorker.components(separatedBy: "\"worker\"")[0].trimmingCharacters(in: .whitespacesAndNewlines).trimmingCharacters(in: CharacterSet(charactersIn: ",")))
        let result = f.devstack(["apply", f.file])
        #expect(result.code == 0, "\(result.output)")
        #expect(f.containers() == [f.container("web")])
    }

    @Test func driftIsShownAndRepaired() throws {
        guard Docker.require() else { return }
        let f = EngineFixture("drift")
        defer { f.tearDown() }
        f.write(webAndWorker)
        #expect(f.devstack(["apply", f.file]).code == 0)
        Docker.run(["kill", f.container("worker")])
        Docker.run(["rm", "-f", f.container("web")])
        let diff = f.devstack(["diff"])
        #expect(diff.stdout.contains("+ create web (no existing container)"), "\(diff.output)")
        #expect(diff.stdout.contains("> start worker (container exited (code 137))"), "\(diff.output)")
        let status = f.devstack(["status"])
        #expect(status.stdout.contains("missing"))
        #expect(status.stdout.contains("container exited (code 137)"))
        let repair = f.devstack(["apply", f.file])
        #expect(repair.code == 0, "\(repair.output)")
        #expect(f.inspect(f.container("web"), "{{.State.Running}}") == "true")
        #expect(f.inspect(f.container("worker"), "{{.State.Running}}") == "true")
        #expect(f.devstack(["diff"]).stdout.contains("no changes"))
        let events = f.devstack(["events", "--json"])
        #expect(events.stdout.contains("container exited (code 137)"))
    }

    @Test func anUnlabelledContainerWithOurNameIsNeverTouched() {
        guard Docker.require() else { return }
        let f = EngineFixture("foreign")
        defer { f.tearDown(); Docker.run(["rm", "-f", f.container("web")]) }
        f.write(webAndWorker)
        // Off the default bridge, which is not what this test is about. (Clean-clone runs once
        // failed here with "could not find bridge docker0": the TLS engine fixture deleted it.)
        let foreign = Docker.run(["run", "-d", "--network", "none", "--name", f.container("web"), "devstack/busybox:1.36", "sleep", "300"]).stdout.trimmingCharacters(in: .whitespacesAndNewlines)
        let result = f.devstack(["apply", f.file])
        #expect(result.code == 1)
        #expect(result.stderr.contains("the container name \"\(f.container("web"))\" is taken by a container devstack does not manage"), "\(result.stderr)")
        #expect(!result.stderr.contains("Fatal error"))
        #expect(f.inspect(f.container("web"), "{{.Id}}") == foreign)
        #expect(f.inspect(f.container("web"), "{{.State.Running}}") == "true", "\(f.inspect(f.container("web"), "{{.State.Status}} exit={{.State.ExitCode}} oom={{.State.OOMKilled}} error={{.State.Error}} started={{.State.StartedAt}} finished={{.State.FinishedAt}}") ?? "gone")")
        #expect(f.containers().isEmpty, "nothing should be created when the plan has problems")
        // The revision is kept: the desired state is recorded even though it could not be applied.
        #expect(f.devstack(["history", "--json"]).stdout.contains("\"number\" : 1"))
    }

    @Test func downRemovesWhatIsLabelledAndNothingElse() {
        guard Docker.require() else { return }
        let f = EngineFixture("down")
        defer { f.tearDown(); Docker.run(["rm", "-f", "\(f.name)-bystander"]); Docker.run(["network", "rm", "\(f.name)-other"]) }
        f.write(webAndWorker)
        #expect(f.devstack(["apply", f.file]).code == 0)
        Docker.run(["network", "create", "\(f.name)-other"])
        Docker.run(["run", "-d", "--network", "none", "--name", "\(f.name)-bystander", "devstack/busybox:1.36", "sleep", "300"])
        let down = f.devstack(["down"])
        #expect(down.code == 0, "\(down.output)")
        #expect(f.containers().isEmpty)
        #expect(f.inspect("\(f.name)-net", "{{.Name}}") == nil)
        #expect(f.inspect("\(f.name)-data", "{{.Name}}") != nil, "volumes survive down without --volumes")
        #expect(f.inspect("\(f.name)-bystander", "{{.State.Running}}") == "true", "\(f.inspect("\(f.name)-bystander", "{{.State.Status}} exit={{.State.ExitCode}} oom={{.State.OOMKilled}} error={{.State.Error}} started={{.State.StartedAt}} finished={{.State.FinishedAt}}") ?? "gone")")
        #expect(f.inspect("\(f.name)-other", "{{.Name}}") != nil)
        #expect(f.devstack(["down", "--volumes"]).code == 0)
        #expect(f.inspect("\(f.name)-data", "{{.Name}}") == nil)
    }

    @Test func userErrorsAreOneClearLine() throws {
        guard Docker.require() else { return }
        let f = EngineFixture("errors")
        defer { f.tearDown() }

        // Engine down.
        f.write(webAndWorker)
        let down = f.devstack(["apply", f.file], environment: ["DOCKER_HOST": "unix:///nonexistent/docker.sock"])
        #expect(down.code == 1)
        #expect(down.stderr == "devstack: error: cannot reach the Docker engine at unix:///nonexistent/docker.sock (no such socket): is dockerd running?\n")
        #expect(f.devstack(["history", "--json"]).stdout.contains("\"number\" : 1"), "the revision must survive an unreachable engine")

        // A port in use by a process devstack does not manage.
        let listener = try TCPListener()
        f.write("\"web\": {\"image\": \"devstack/busybox:1.36\", \"command\": [\"httpd\", \"-f\", \"-p\", \"80\"], \"ports\": [\"127.0.0.1:\(listener.port):80\"]}")
        let busy = f.devstack(["apply", f.file])
        #expect(busy.code == 1)
        #expect(busy.stderr.contains("services.web.ports[0]: host port 127.0.0.1:\(listener.port)/tcp is already in use"), "\(busy.stderr)")
        listener.close()

        // An image missing with pull policy never.
        f.write("\"web\": {\"image\": \"devstack/absent:0\", \"pullPolicy\": \"never\"}")
        let missing = f.devstack(["apply", f.file])
        #expect(missing.code == 1)
        #expect(missing.stderr.contains("services.web.image: image \"devstack/absent:0\" is not present and pullPolicy is \"never\""), "\(missing.stderr)")

        // A failing health check.
        f.write("\"web\": {\"image\": \"devstack/busybox:1.36\", \"command\": [\"sleep\", \"300\"], \"healthcheck\": {\"command\": [\"false\"], \"interval\": \"200ms\", \"timeout\": \"200ms\", \"retries\": 3}}")
        let unhealthy = f.devstack(["apply", f.file])
        #expect(unhealthy.code == 1)
        #expect(unhealthy.stderr.contains("web: wait-healthy failed: not healthy after"), "\(unhealthy.stderr)")
        for result in [down, busy, missing, unhealthy] { #expect(!result.output.contains("Fatal error")) }
        #expect(f.devstack(["history", "--json"]).stdout.components(separatedBy: "\"number\"").count == 5, "every revision is kept")
    }

    @Test func theExampleComesUpHealthy() throws {
        guard Docker.require() else { return }
        let f = EngineFixture("example")
        defer { f.tearDown() }
        guard try f.copyExample() else { return }
        let port = try TCPListener.freePort()
        let up = f.devstack(["apply", f.file], environment: ["LMS_PORT": String(port)])
        #expect(up.code == 0, "\(up.output)")
        let status = f.devstack(["status", "--json"])
        let services = (try JSONSerialization.jsonObject(with: Data(status.stdout.utf8)) as? [String: Any])?["services"] as? [[String: Any]] ?? []
        #expect(services.count == 4)
        #expect(services.allSatisfy { $0["state"] as? String == "running" }, "\(status.stdout)")
        let query = Docker.run(["exec", f.container("mariadb"), "mysqladmin", "ping"])
        #expect(query.stdout.contains("alive"))
        // The seeds ran: the schema, then the demo course rows.
        #expect(up.stdout.contains("seed schema: ran"), "\(up.stdout)")
        let courses = f.courses
        #expect(courses() == "2")
        let again = f.devstack(["apply", f.file], environment: ["LMS_PORT": String(port)])
        #expect(again.stdout.contains("seed schema: skipped, unchanged since revision 1"), "\(again.stdout)")
        #expect(again.stdout.contains("seed demo-course: skipped, unchanged since revision 1"))
        // Editing one seed file reruns that seed only.
        let demo = "\(f.dir)/seeds/demo-course.sql"
        let sql = try String(contentsOfFile: demo, encoding: .utf8) + "INSERT IGNORE INTO courses (id, display_name, org) VALUES ('course-v1:edX+New+2026', 'New', 'edX');\n"
        CLI.write(sql, to: demo)
        let edited = f.devstack(["apply", f.file], environment: ["LMS_PORT": String(port)])
        #expect(edited.stdout.contains("seed demo-course: ran"), "\(edited.stdout)")
        #expect(edited.stdout.contains("seed schema: skipped"))
        #expect(courses() == "3")
        let ledger = f.devstack(["status", "--json"]).stdout
        #expect(ledger.contains("\"seed\" : \"demo-course\""))
        let page = CLI.run("wget", ["-q", "-O", "-", "http://127.0.0.1:\(port)/"])
        #expect(page.stdout.contains("edx-lite LMS on port \(port)"), "the rendered config is served: \(page.output)")
        // The secret reaches the container but no devstack output.
        #expect(f.inspect(f.container("mariadb"), "{{json .Config.Env}}")?.contains("dev-only-not-a-real-password") == true)
        for command in [["status", "--json"], ["show"], ["events"], ["history"], ["diff"], ["seed", "--force"]] {
            #expect(!f.devstack(command).output.contains("dev-only-not-a-real-password"), "\(command) printed a secret")
        }
    }
}
