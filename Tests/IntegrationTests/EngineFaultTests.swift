import Foundation
import Testing
import TestSupport

/// dockerd stopped and restarted under devstack. These stop the engine that every other test
/// uses, so scripts/test runs them in a phase of their own, after the others, and only when
/// asked: a bare `swift test` on someone's machine never stops their dockerd.
@Suite(.serialized, .enabled(if: ProcessInfo.processInfo.environment["DEVSTACK_DESTRUCTIVE_TESTS"] == "1",
                             "stops and restarts the host's dockerd; scripts/test runs it with DEVSTACK_DESTRUCTIVE_TESTS=1"))
struct EngineFaultTests {
    static func stopEngine() {
        CLI.run("pkill", ["-TERM", "-x", "dockerd"])
        // Gone, not just silent: a new dockerd refuses to start beside one still shutting down.
        #expect(eventually(90) { CLI.run("pgrep", ["-x", "dockerd"]).code != 0 }, "dockerd did not stop")
    }

    /// scripts/setup starts dockerd again (and checks the test images), as CI does.
    static func startEngine() {
        let setup = CLI.run("bash", [CLI.packageRoot.appendingPathComponent("scripts/setup").path])
        #expect(setup.code == 0, "\(setup.output)\n\((try? String(contentsOfFile: "/tmp/devstack-dockerd.log", encoding: .utf8))?.suffix(2000) ?? "")")
        #expect(eventually(60) { Docker.run(["info"]).code == 0 }, "dockerd did not come back")
    }

    @Test func anEngineStoppedMidApplyIsAClearErrorAndTheNextApplyConverges() throws {
        guard Docker.require() else { return }
        let f = EngineFixture("enginestop")
        defer { if Docker.run(["info"]).code != 0 { Self.startEngine() }; f.tearDown() }
        f.write(webAndWorker + """
            , "slow": { "image": "devstack/busybox:1.36", "command": ["sh", "-c", "sleep 8; touch /tmp/ready; sleep 300"],
                        "healthcheck": { "command": ["test", "-f", "/tmp/ready"], "interval": "1s", "retries": 30 } },
            "after": { "image": "devstack/busybox:1.36", "command": ["sleep", "300"], "dependsOn": { "slow": "healthy" } }
            """)
        let background = try BackgroundDevstack(f, ["apply", f.file, "--timeout", "60"])
        let apply = background.process
        #expect(eventually(30) { f.inspect(f.container("slow"), "{{.State.Running}}") == "true" }, "the apply got under way")
        Self.stopEngine()
        apply.waitUntilExit()
        let output = background.output
        #expect(apply.terminationStatus == 1, "\(output)")
        // The step that was waiting fails naming the engine; the apply ends saying it did not converge.
        #expect(output.contains("the Docker engine at unix://"), "\(output)")
        #expect(output.contains("did not converge"), "\(output)")
        #expect(!output.contains("Fatal error"), "\(output)")

        Self.startEngine()
        let again = f.devstack(["apply", f.file])
        #expect(again.code == 0, "\(again.output)")
        let services = Docker.run(["ps", "--filter", "label=dev.devstack.env=\(f.name)", "--format", "{{.Label \"dev.devstack.service\"}}"]).stdout
            .split(separator: "\n").map(String.init).sorted()
        #expect(services == ["after", "slow", "web", "worker"], "one running container each")
        #expect(f.devstack(["doctor"]).code == 0)
    }

    @Test func theControllerSurvivesAnEngineRestartAndResyncs() throws {
        guard Docker.require() else { return }
        let f = EngineFixture("enginerestart")
        defer { if Docker.run(["info"]).code != 0 { Self.startEngine() }; f.tearDown() }
        f.write(webAndWorker)
        #expect(f.devstack(["apply", f.file]).code == 0)
        let controller = try BackgroundController(f)
        defer { _ = controller.stop() }
        #expect(eventually(10) { controller.output.contains("holds \(f.name)") })
        Self.stopEngine()
        Self.startEngine()
        // Restarting dockerd stops every container; the controller must notice and start them.
        #expect(eventually(60) {
            f.inspect(f.container("web"), "{{.State.Running}}") == "true" && f.inspect(f.container("worker"), "{{.State.Running}}") == "true"
        }, "\(controller.output)")
        #expect(controller.process.isRunning, "the controller kept running: \(controller.output)")
        #expect(controller.output.contains("reconnect"), "\(controller.output)")
        // And it still reacts to events on the new connection.
        Docker.run(["rm", "-f", f.container("worker")])
        #expect(eventually(30) { f.inspect(f.container("worker"), "{{.State.Running}}") == "true" }, "\(controller.output)")
    }
}
