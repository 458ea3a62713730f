import Foundation
import Testing
import TestSupport

/// Crash points, concurrency, store damage and foreign objects, against the real dockerd.
/// docs/reliability.md lists these as its fault table.
@Suite(.serialized) struct ReliabilityTests {
    /// Labelled containers per service: exactly one each, never a duplicate.
    func containerCounts(_ f: EngineFixture) -> [String: Int] {
        let names = Docker.run(["ps", "-a", "--filter", "label=dev.devstack.env=\(f.name)", "--format", "{{.Label \"dev.devstack.service\"}}"]).stdout
        return names.split(separator: "\n").reduce(into: [:]) { $0[String($1), default: 0] += 1 }
    }

    func revisions(_ f: EngineFixture) -> [Int] {
        let json = f.devstack(["history", "--json"]).stdout
        let list = (try? JSONSerialization.jsonObject(with: Data(json.utf8))) as? [[String: Any]] ?? []
        return list.compactMap { $0["number"] as? Int }.sorted()
    }

    static let seeded = webAndWorker + """
        }, "seeds": { "mark": { "service": "worker", "exec": ["sh", "-c", "echo seeded >> /data/seeded"] }
        """

    @Test(arguments: ["after-record", "after-create:web", "after-create:worker", "after-start:web", "after-start:worker", "mid-seed:mark"])
    func aKilledApplyConvergesOnTheNextOne(point: String) throws {
        guard Docker.require() else { return }
        let f = EngineFixture("crash")
        defer { f.tearDown() }
        f.write(Self.seeded)
        let killed = f.devstack(["apply", f.file], environment: ["DEVSTACK_FAULT": point])
        #expect(killed.code == 9, "SIGKILL at \(point): \(killed.output)")
        #expect(killed.stderr.contains("fault injection: killed at \(point)"))
        #expect(revisions(f) == [1], "the revision is recorded whole, once")

        let again = f.devstack(["apply", f.file])
        #expect(again.code == 0, "\(again.output)")
        #expect(containerCounts(f) == ["web": 1, "worker": 1], "no duplicate container")
        #expect(f.inspect(f.container("worker"), "{{.State.Running}}") == "true")
        #expect(revisions(f) == [1], "the next apply records nothing new")
        // The seed ran to completion exactly once: an interrupted run is never taken for done.
        #expect(Docker.run(["exec", f.container("worker"), "cat", "/data/seeded"]).stdout == "seeded\n", "\(again.stdout)")
        if point == "mid-seed:mark" { #expect(again.stdout.contains("seed mark: ran") && again.stdout.contains("last run did not finish"), "\(again.stdout)") }
        #expect(f.devstack(["doctor"]).code == 0)
    }

    /// Killed when a changed service's successor is created, the old container has stepped aside
    /// under another name (perhaps still running) and holds the host port: the next apply removes
    /// it before it starts the successor, and leaves one container under the service's name.
    @Test func aReplacementKilledAfterItsSuccessorIsCreatedConvergesOnTheNextApply() throws {
        guard Docker.require() else { return }
        let f = EngineFixture("crashreplace")
        defer { f.tearDown() }
        let port = try TCPListener.freePort()
        func write(_ mode: String) {
            f.write("""
                "web": {"image": "devstack/busybox:1.36", "pullPolicy": "never", "env": {"MODE": "\(mode)"},
                        "ports": ["127.0.0.1:\(port):8080"], "command": ["httpd", "-f", "-p", "8080", "-h", "/"]}
                """)
        }
        write("one")
        #expect(f.devstack(["apply", f.file]).code == 0)
        write("two")
        let killed = f.devstack(["apply", f.file], environment: ["DEVSTACK_FAULT": "after-create:web"])
        #expect(killed.code == 9, "\(killed.output)")
        #expect(containerCounts(f) == ["web": 2], "the old one and its successor")
        #expect(f.containers().contains(f.container("web")))

        let again = f.devstack(["apply", f.file])
        #expect(again.code == 0, "\(again.output)")
        #expect(f.containers() == [f.container("web")])
        #expect(f.inspect(f.container("web"), "{{.State.Running}}") == "true")
        #expect(f.inspect(f.container("web"), "{{json .Config.Env}}")?.contains("MODE=two") == true)
        // The successor holds the port (httpd listens a moment after its container starts).
        #expect(eventually(10) { CLI.run("wget", ["-q", "-O", "/dev/null", "http://127.0.0.1:\(port)/etc/hostname"]).code == 0 })
    }

    @Test func aRestoreCutShortIsFinishedByTheNextApply() throws {
        guard Docker.require() else { return }
        let f = EngineFixture("crashrestore")
        defer { f.tearDown() }
        f.write(webAndWorker)
        #expect(f.devstack(["apply", f.file]).code == 0)
        Docker.run(["exec", f.container("worker"), "sh", "-c", "echo precious > /data/file"])
        #expect(f.devstack(["snapshot", "save", "s"]).code == 0)
        let killed = f.devstack(["snapshot", "restore", "s"], environment: ["DEVSTACK_FAULT": "mid-restore:data"])
        #expect(killed.code == 9, "\(killed.output)")
        let doctor = f.devstack(["doctor"])
        #expect(doctor.stdout.contains("a restore of snapshot \"s\" was interrupted"), "\(doctor.output)")
        let again = f.devstack(["apply", f.file])
        #expect(again.code == 0, "\(again.output)")
        #expect(again.stdout.contains("finished an interrupted restore of snapshot \"s\""), "\(again.stdout)")
        #expect(Docker.run(["exec", f.container("worker"), "cat", "/data/file"]).stdout == "precious\n", "nothing lost")
        #expect(containerCounts(f) == ["web": 1, "worker": 1])
        #expect(!f.devstack(["doctor"]).stdout.contains("interrupted"))
    }

    @Test func aControllerAlsoFinishesARestoreCutShort() throws {
        guard Docker.require() else { return }
        let f = EngineFixture("ctlrestore")
        defer { f.tearDown() }
        f.write(webAndWorker)
        #expect(f.devstack(["apply", f.file]).code == 0)
        Docker.run(["exec", f.container("worker"), "sh", "-c", "echo precious > /data/file"])
        #expect(f.devstack(["snapshot", "save", "s"]).code == 0)
        #expect(f.devstack(["snapshot", "restore", "s"], environment: ["DEVSTACK_FAULT": "mid-restore:data"]).code == 9)
        let controller = try BackgroundController(f)
        defer { _ = controller.stop() }
        #expect(eventually(30) { controller.output.contains("finished an interrupted restore of snapshot \"s\"") }, "\(controller.output)")
        #expect(eventually(30) { Docker.run(["exec", f.container("worker"), "cat", "/data/file"]).stdout == "precious\n" }, "nothing lost")
        #expect(containerCounts(f) == ["web": 1, "worker": 1])
    }

    @Test func eightConcurrentAppliesRecordEveryRevisionAndEndAtTheLast() throws {
        guard Docker.require() else { return }
        let f = EngineFixture("concurrent")
        defer { f.tearDown() }
        // Written first, then started together.
        for i in 1...8 {
            CLI.write("{\"name\": \"\(f.name)\", \"services\": {\(webAndWorker.replacingOccurrences(of: "\"MODE\": \"dev\"", with: "\"MODE\": \"v\(i)\""))}}", to: "\(f.dir)/env-\(i).json")
        }
        let applies = try (1...8).map { try BackgroundDevstack(f, ["apply", "\(f.dir)/env-\($0).json"]) }
        for apply in applies {
            apply.process.waitUntilExit()
            #expect(apply.process.terminationStatus == 0, "\(apply.output)")
            #expect(!apply.output.localizedCaseInsensitiveContains("busy") && !apply.output.contains("locked"), "\(apply.output)")
        }
        #expect(revisions(f) == Array(1...8), "every revision recorded, numbered in order")
        let last = f.devstack(["show", "8", "--json"]).stdout
        let mode = try #require((1...8).map { "v\($0)" }.first { last.contains("\"MODE\": \"\($0)\"") }, "\(last)")
        #expect(f.inspect(f.container("web"), "{{json .Config.Env}}")?.contains("MODE=\(mode)") == true, "the engine runs the last revision")
        #expect(containerCounts(f) == ["web": 1, "worker": 1])
    }

    @Test func readersNeverWaitOnALongApply() throws {
        guard Docker.require() else { return }
        let f = EngineFixture("readers")
        defer { f.tearDown() }
        f.write(webAndWorker)
        #expect(f.devstack(["apply", f.file]).code == 0)
        // A service that takes 4 s to become healthy keeps the next apply busy.
        f.write(webAndWorker + """
            , "slow": { "image": "devstack/busybox:1.36", "command": ["sh", "-c", "sleep 4; touch /tmp/ready; sleep 300"],
                        "healthcheck": { "command": ["test", "-f", "/tmp/ready"], "interval": "1s", "retries": 20 } },
            "after": { "image": "devstack/busybox:1.36", "command": ["sleep", "300"], "dependsOn": { "slow": "healthy" } }
            """)
        let apply = try BackgroundDevstack(f, ["apply", f.file]).process
        var slowest = 0.0
        var reads = 0
        while apply.isRunning && reads < 200 {
            for command in [["history", "--json"], ["status", "--json"]] {
                let start = Date()
                let result = f.devstack(command)
                slowest = max(slowest, Date().timeIntervalSince(start))
                #expect(result.code == 0, "\(result.output)")
                if command[0] == "history" {
                    // A revision is visible whole or not at all.
                    let seen = revisions(f)
                    #expect(seen == [1] || seen == [1, 2])
                    if seen.contains(2) { #expect(f.devstack(["show", "2"]).stdout.contains("\"slow\"")) }
                }
                reads += 1
            }
        }
        apply.waitUntilExit()
        #expect(apply.terminationStatus == 0)
        #expect(reads >= 4, "the apply should have lasted long enough to read during it")
        #expect(slowest < 2.0, "a read took \(slowest) s during an apply")
    }

    @Test func aDamagedOrNewerDatabaseIsAClearErrorWithARecoveryPath() throws {
        let dir = CLI.temporaryDirectory("devstack-damage")
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let env = ["DEVSTACK_STATE": "\(dir)/state.db"]
        let file = CLI.packageRoot.appendingPathComponent("examples/edx-lite/env.json").path
        #expect(CLI.devstack(["apply", file, "--record-only"], environment: env).code == 0)
        // A copy stands in for the backup a migration takes.
        try FileManager.default.copyItem(atPath: "\(dir)/state.db", toPath: "\(dir)/state.db.backup-schema6-20261125T000000")
        let handle = try #require(FileHandle(forWritingAtPath: "\(dir)/state.db"))
        try handle.truncate(atOffset: 20_000)
        try handle.close()
        let broken = CLI.devstack(["history"], environment: env)
        #expect(broken.code == 1)
        #expect(broken.stderr.contains("the state database is damaged") && broken.stderr.contains("devstack doctor --repair"), "\(broken.stderr)")
        #expect(!broken.output.contains("Fatal error"))
        let check = CLI.devstack(["doctor"], environment: env)
        #expect(check.code == 1 && check.stdout.contains("problem database"), "\(check.output)")
        let repair = CLI.devstack(["doctor", "--repair"], environment: env)
        #expect(repair.code == 0, "\(repair.output)")
        #expect(repair.stdout.contains("repaired:"), "\(repair.stdout)")
        // The repaired database has the revision recorded before the damage, and it reads back.
        let history = CLI.devstack(["history"], environment: env)
        #expect(history.code == 0)
        #expect(history.stdout.contains("+lms +mariadb +redis +worker"), "\(history.stdout)")
        #expect(CLI.devstack(["show"], environment: env).stdout.contains("\"name\": \"edx-lite\""))
        let kept = try FileManager.default.contentsOfDirectory(atPath: dir).filter { $0.contains(".damaged-") }
        #expect(!kept.isEmpty, "the damaged file is kept")

        // Not SQLite at all.
        CLI.write("this is not a database", to: "\(dir)/other.db")
        let other = CLI.devstack(["history", "--state", "\(dir)/other.db"])
        #expect(other.code == 1 && other.stderr.contains("is not a SQLite database"), "\(other.stderr)")
        #expect(try String(contentsOfFile: "\(dir)/other.db", encoding: .utf8) == "this is not a database", "left as it was")
    }

    @Test func aFullDiskFailsCleanlyAndLosesNothing() throws {
        guard Docker.require() else { return }
        let dir = CLI.temporaryDirectory("devstack-full")
        defer { CLI.run("umount", [dir]); try? FileManager.default.removeItem(atPath: dir) }
        let mount = CLI.run("mount", ["-t", "tmpfs", "-o", "size=1m", "tmpfs", dir])
        guard mount.code == 0 else {
            Issue.record("cannot mount a 1 MB tmpfs to simulate a full disk (needs root): \(mount.output)")
            return
        }
        let env = ["DEVSTACK_STATE": "\(dir)/state.db"]
        let work = CLI.temporaryDirectory("devstack-full-work")
        defer { try? FileManager.default.removeItem(atPath: work) }
        CLI.write("{\"name\": \"full\", \"services\": {\"a\": {\"image\": \"x\", \"env\": {\"V\": \"1\"}}}}", to: "\(work)/env.json")
        #expect(CLI.devstack(["apply", "\(work)/env.json", "--record-only"], environment: env).code == 0)
        // Fill what is left.
        CLI.run("dd", ["if=/dev/zero", "of=\(dir)/filler", "bs=4k"])
        let big = String(repeating: "x", count: 300_000)
        CLI.write("{\"name\": \"full\", \"services\": {\"a\": {\"image\": \"x\", \"env\": {\"V\": \"\(big)\"}}}}", to: "\(work)/env.json")
        let full = CLI.devstack(["apply", "\(work)/env.json", "--record-only"], environment: env)
        #expect(full.code == 1, "\(full.output)")
        #expect(full.stderr.contains("is full"), "\(full.stderr)")
        #expect(!full.output.contains("Fatal error"))
        try FileManager.default.removeItem(atPath: "\(dir)/filler")
        let history = CLI.devstack(["history", "--json"], environment: env)
        #expect(history.stdout.contains("\"number\" : 1") && !history.stdout.contains("\"number\" : 2"), "\(history.output)")
        #expect(CLI.devstack(["doctor"], environment: env).code == 0)
        #expect(CLI.devstack(["apply", "\(work)/env.json", "--record-only"], environment: env).code == 0, "works again once there is room")
    }

    @Test func unlabelledNetworksAndVolumesWithOurNamesAreNeverAdopted() {
        guard Docker.require() else { return }
        let f = EngineFixture("adopt")
        defer { f.tearDown(); Docker.run(["volume", "rm", "\(f.name)-data"]); Docker.run(["network", "rm", "\(f.name)-net"]) }
        f.write(webAndWorker)
        Docker.run(["volume", "create", "\(f.name)-data"])
        Docker.run(["network", "create", "\(f.name)-net"])
        let result = f.devstack(["apply", f.file])
        #expect(result.code == 1)
        #expect(result.stderr.contains("volume \"\(f.name)-data\" exists but devstack did not create it"), "\(result.stderr)")
        #expect(result.stderr.contains("network \"\(f.name)-net\" exists but devstack did not create it"), "\(result.stderr)")
        #expect(f.containers().isEmpty)
        #expect(f.devstack(["down", "--volumes"]).code == 0)
        #expect(f.inspect("\(f.name)-data", "{{.Name}}") != nil && f.inspect("\(f.name)-net", "{{.Name}}") != nil, "down leaves them alone")
    }
}
