import Foundation
import Testing
import TestSupport

/// A `devstack controller` running in the background for one test.
final class BackgroundController: BackgroundDevstack {
    init(_ f: EngineFixture, extra: [String] = []) throws { try super.init(f, ["controller"] + extra) }
}

/// A devstack command running in the background, its output going to a log file.
class BackgroundDevstack {
    let process = Process()
    let logPath: String

    init(_ f: EngineFixture, _ arguments: [String]) throws {
        logPath = f.dir + "/\(arguments[0])-\(UUID().uuidString.prefix(6)).log"
        FileManager.default.createFile(atPath: logPath, contents: nil)
        let log = try FileHandle(forWritingTo: URL(fileURLWithPath: logPath))
        process.executableURL = URL(fileURLWithPath: CLI.binary)
        process.arguments = arguments
        process.environment = ProcessInfo.processInfo.environment.merging(f.env.merging(["NO_COLOR": "1"]) { $1 }) { $1 }
        process.currentDirectoryURL = URL(fileURLWithPath: f.dir)
        process.standardOutput = log
        process.standardError = log
        try process.run()
    }

    var output: String { (try? String(contentsOfFile: logPath, encoding: .utf8)) ?? "" }

    /// SIGTERM, then wait for it to exit.
    func stop() -> Int32 {
        if process.isRunning { process.terminate() }
        process.waitUntilExit()
        return process.terminationStatus
    }
}

extension BackgroundController {
    /// Applies web and worker, starts a controller and waits until it holds the environment.
    static func applied(_ f: EngineFixture) throws -> BackgroundController {
        f.write(webAndWorker)
        #expect(f.devstack(["apply", f.file]).code == 0)
        let controller = try BackgroundController(f, extra: ["-v"])
        #expect(eventually(10) { controller.output.contains("holds \(f.name)") }, "\(controller.output)")
        return controller
    }
}

/// Polls `condition` until it holds or `seconds` pass.
func eventually(_ seconds: Double, _ condition: () -> Bool) -> Bool {
    let deadline = Date().addingTimeInterval(seconds)
    while Date() < deadline {
        if condition() { return true }
        Thread.sleep(forTimeInterval: 0.2)
    }
    return condition()
}

@Suite(.serialized) struct ControllerTests {
    @Test func killedAndRemovedContainersComeBackWithTheirCauseRecorded() throws {
        guard Docker.require() else { return }
        let f = EngineFixture("heal")
        defer { f.tearDown() }
        let controller = try BackgroundController.applied(f)
        defer { _ = controller.stop() }

        Docker.run(["kill", f.container("worker")])
        #expect(eventually(10) { f.inspect(f.container("worker"), "{{.State.Running}}") == "true" }, "worker was not restarted: \(controller.output)")
        Docker.run(["rm", "-f", f.container("web")])
        #expect(eventually(10) { f.inspect(f.container("web"), "{{.State.Running}}") == "true" }, "web was not recreated: \(controller.output)")
        let events = f.devstack(["events"]).stdout
        #expect(events.contains("container exited (code 137)"), "\(events)")
        #expect(events.contains("no existing container"))
    }

    /// Someone killing, stopping or removing a container is not a crash: it comes back at once,
    /// however often, and no back-off is recorded.
    @Test func outsideDisruptionsAreHealedAtOnceWithoutBackOff() throws {
        guard Docker.require() else { return }
        let f = EngineFixture("outside")
        defer { f.tearDown() }
        let controller = try BackgroundController.applied(f)
        defer { _ = controller.stop() }
        for action in [["kill"], ["stop", "-t", "1"], ["rm", "-f"], ["kill"]] {
            let before = f.inspect(f.container("worker"), "{{.State.StartedAt}}")
            Docker.run(action + [f.container("worker")])
            // The soak (scripts/soak-controller) measures speed on a quiet machine; here other suites
            // load the engine, so the bound is generous and "no back-off" is the assertion that matters.
            let healed = eventually(10) {
                f.inspect(f.container("worker"), "{{.State.Running}}") == "true" && f.inspect(f.container("worker"), "{{.State.StartedAt}}") != before
            }
            #expect(healed, "worker was not back within 10 s after docker \(action.joined(separator: " ")): \(controller.output)")
        }
        let events = f.devstack(["events", "--json", "-l", "500"]).stdout
        #expect(!events.contains("\"back-off\""), "a disruption from outside was taken for a crash: \(controller.output)")
    }

    @Test func downIsRefusedWhileAControllerHoldsTheEnvironment() throws {
        guard Docker.require() else { return }
        let f = EngineFixture("downlease")
        defer { f.tearDown() }
        let controller = try BackgroundController.applied(f)
        let refused = f.devstack(["down"])
        #expect(refused.code == 1, "\(refused.output)")
        #expect(refused.stderr.hasPrefix("devstack: error: cannot run down now: controller "), "\(refused.stderr)")
        #expect(f.containers() == [f.container("web"), f.container("worker")], "nothing was removed")
        #expect(controller.stop() == 0)
        let down = f.devstack(["down"])
        #expect(down.code == 0, "\(down.output)")
        #expect(f.containers().isEmpty)
    }

    @Test func anApplyFromAnotherProcessIsConvergedByTheController() throws {
        guard Docker.require() else { return }
        let f = EngineFixture("handoff")
        defer { f.tearDown() }
        let controller = try BackgroundController.applied(f)
        defer { _ = controller.stop() }
        f.write(webAndWorker.replacingOccurrences(of: "\"MODE\": \"dev\"", with: "\"MODE\": \"prod\""))
        let apply = f.devstack(["apply", f.file, "--timeout", "60"])
        #expect(apply.code == 0, "\(apply.output)")
        #expect(apply.stdout.contains("waiting for it to converge revision 2"))
        #expect(apply.stdout.contains("the controller converged"))
        #expect(f.inspect(f.container("web"), "{{json .Config.Env}}")?.contains("MODE=prod") == true)
    }

    /// The controller watches its build contexts itself: passes over an unchanged context build
    /// nothing, and a one-byte edit is built at the next resync.
    @Test func aBuildContextEditedUnderARunningControllerIsRebuiltAtTheNextResync() throws {
        guard Docker.require() else { return }
        let f = EngineFixture("ctlbuild")
        defer {
            f.tearDown()
            f.removeBuiltImages("app")
        }
        CLI.write("FROM devstack/busybox:1.36\nCOPY . /ctx/\n", to: "\(f.dir)/app/Dockerfile")
        CLI.write("hello\n", to: "\(f.dir)/app/greeting.txt")
        f.write("\"app\": {\"build\": \"./app\", \"command\": [\"sleep\", \"300\"]}")
        #expect(f.devstack(["apply", f.file]).code == 0)
        let controller = try BackgroundController(f, extra: ["--resync", "1", "-v"])
        defer { _ = controller.stop() }
        #expect(eventually(10) { controller.output.contains("holds \(f.name)") }, "\(controller.output)")
        // Several resyncs over the unchanged context.
        Thread.sleep(forTimeInterval: 3)
        let builds = { Docker.run(["images", "--filter", "reference=devstack/\(f.name)-app", "-q"]).stdout.split(separator: "\n").count }
        #expect(builds() == 1, "an unchanged context is not built again")
        // An edit as an editor makes it: one byte, same size, a new modification time. (One that
        // also put the old time back is trusted by the index, as git's is, once the index is
        // older than its racy window: the monitor says the folder changed, the walk finds the
        // same metadata. A loaded machine takes that long to build, so this test must not.)
        CLI.write("hellO\n", to: "\(f.dir)/app/greeting.txt")
        #expect(eventually(60) { Docker.run(["exec", f.container("app"), "cat", "/ctx/greeting.txt"]).stdout == "hellO\n" },
                "\(controller.output.suffix(2000))")
        #expect(builds() == 2)
    }

    @Test func aSecondControllerIsRefusedAndSIGTERMReleasesTheLease() throws {
        guard Docker.require() else { return }
        let f = EngineFixture("lease")
        defer { f.tearDown() }
        f.write(webAndWorker)
        #expect(f.devstack(["apply", f.file]).code == 0)
        let first = try BackgroundController(f)
        #expect(eventually(10) { first.output.contains("holds \(f.name)") })
        let second = f.devstack(["controller"])
        #expect(second.code == 1)
        #expect(second.stderr.contains("is held by controller pid"), "\(second.stderr)")
        #expect(second.stderr.contains("devstack unlock"))
        #expect(first.stop() == 0, "\(first.output)")
        #expect(first.output.contains("lease on \(f.name) released"))
        let third = try BackgroundController(f)
        defer { _ = third.stop() }
        #expect(eventually(5) { third.output.contains("holds \(f.name)") }, "a new controller should start at once: \(third.output)")
    }

    @Test func aCrashLoopBacksOffWithGrowingDelaysWhileOthersStayUp() throws {
        guard Docker.require() else { return }
        let f = EngineFixture("crash")
        defer { f.tearDown() }
        f.write(webAndWorker + ", \"crasher\": {\"image\": \"devstack/busybox:1.36\", \"command\": [\"sh\", \"-c\", \"exit 3\"]}")
        #expect(f.devstack(["apply", f.file]).code == 0)
        let controller = try BackgroundController(f, extra: ["-v"])
        defer { _ = controller.stop() }
        func backOffs() -> [Int] {
            let json = f.devstack(["events", "--json", "-l", "200"]).stdout
            let events = (try? JSONSerialization.jsonObject(with: Data(json.utf8)) as? [[String: Any]]) ?? []
            return events.filter { $0["action"] as? String == "back-off" && $0["service"] as? String == "crasher" }.compactMap { $0["durationMs"] as? Int }
        }
        // 1 s + 2 s + 4 s of holds, plus passes that can take seconds each on a loaded 2-core machine.
        #expect(eventually(60) { backOffs().count >= 3 }, "\(controller.output)")
        let delays = backOffs()
        #expect(delays.count >= 3)
        #expect(zip(delays, delays.dropFirst()).allSatisfy { $0 < $1 }, "delays should grow: \(delays)")
        #expect(f.inspect(f.container("web"), "{{.State.Running}}") == "true")
        #expect(f.inspect(f.container("worker"), "{{.State.Running}}") == "true")
        let status = f.devstack(["status", "--json"]).stdout
        #expect(status.contains("crash loop"), "\(status)")
    }

    @Test func logsFollowTwoServicesAndExecPassesTheExitCode() throws {
        guard Docker.require() else { return }
        let f = EngineFixture("logs")
        defer { f.tearDown() }
        f.write("""
            "alpha": {"image": "devstack/busybox:1.36", "command": ["sh", "-c", "trap 'exit 0' TERM; echo alpha-ready; while true; do sleep 1 & wait $!; done"]},
            "beta": {"image": "devstack/busybox:1.36", "command": ["sh", "-c", "trap 'exit 0' TERM; echo beta-ready; while true; do sleep 1 & wait $!; done"]}
            """)
        #expect(f.devstack(["apply", f.file]).code == 0)
        let logFile = f.dir + "/logs.out"
        FileManager.default.createFile(atPath: logFile, contents: nil)
        let follower = Process()
        follower.executableURL = URL(fileURLWithPath: CLI.binary)
        follower.arguments = ["logs", "-f", "alpha", "beta"]
        follower.environment = ProcessInfo.processInfo.environment.merging(f.env.merging(["NO_COLOR": "1"]) { $1 }) { $1 }
        follower.standardOutput = try FileHandle(forWritingTo: URL(fileURLWithPath: logFile))
        try follower.run()
        defer { follower.terminate(); follower.waitUntilExit() }
        func logs() -> String { (try? String(contentsOfFile: logFile, encoding: .utf8)) ?? "" }
        #expect(eventually(10) { logs().contains("alpha | alpha-ready") && logs().contains("beta  | beta-ready") }, "\(logs())")
        Docker.run(["exec", f.container("beta"), "sh", "-c", "echo later > /proc/1/fd/1"])
        #expect(eventually(10) { logs().contains("beta  | later") }, "logs -f did not follow: \(logs())")
        #expect(follower.isRunning)

        let ok = f.devstack(["exec", "alpha", "--", "sh", "-c", "echo out; echo err >&2"])
        #expect(ok.code == 0)
        #expect(ok.stdout == "out\n")
        #expect(ok.stderr == "err\n")
        #expect(f.devstack(["exec", "alpha", "--", "sh", "-c", "exit 7"]).code == 7)
    }
}
