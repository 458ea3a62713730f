import Foundation
import Testing
import TestSupport

/// Remote engines: the address rules, and real remote ends on this machine: a second dockerd
/// that speaks only mutual TLS on a loopback port, and OpenSSH's sshd on a loopback port whose
/// `docker system dial-stdio` reaches this machine's dockerd.
@Suite struct RemoteEngineTests {
    static let services = webAndWorker

    @Test func plainTCPIsRefusedUnlessItIsLoopbackOrAccepted() throws {
        let f = EngineFixture("plaintcp")
        defer { try? FileManager.default.removeItem(atPath: f.dir) }
        f.write(Self.services)
        #expect(f.devstack(["apply", f.file, "--record-only"]).code == 0)
        let refused = f.devstack(["status"], environment: ["DOCKER_HOST": "tcp://192.0.2.10:2375"])
        #expect(refused.code == 1)
        #expect(refused.stderr == "devstack: error: DOCKER_HOST=tcp://192.0.2.10:2375 has no TLS: anyone on the network could run containers as root there. Set DOCKER_TLS_VERIFY=1 with DOCKER_CERT_PATH, or DEVSTACK_INSECURE_ENGINE=1 if you accept that\n")
        let loopback = f.devstack(["status"], environment: ["DOCKER_HOST": "tcp://127.0.0.1:9"])
        #expect(loopback.stderr == "devstack: error: cannot reach the Docker engine at tcp://127.0.0.1:9: connection refused\n", "\(loopback.output)")
        let context = f.devstack(["status"], environment: ["DOCKER_CONTEXT": "nowhere", "DOCKER_CONFIG": f.dir + "/docker"])
        #expect(context.stderr.hasPrefix("devstack: error: no docker context named \"nowhere\""), "\(context.output)")
        // --context names one for any command, over DOCKER_HOST, as docker --context does.
        let flag = f.devstack(["--context", "elsewhere", "status"], environment: ["DOCKER_HOST": "unix:///var/run/docker.sock", "DOCKER_CONFIG": f.dir + "/docker"])
        #expect(flag.stderr.hasPrefix("devstack: error: no docker context named \"elsewhere\""), "\(flag.output)")
        let after = f.devstack(["status", "--context=elsewhere"], environment: ["DOCKER_CONFIG": f.dir + "/docker"])
        #expect(after.stderr == flag.stderr)
        let empty = f.devstack(["status", "--context"])
        #expect(empty.code == 2)
        #expect(empty.stderr == "devstack: error: --context: expected the name of a docker context (docker context ls lists them)\n")
    }

    /// The suite's engine is in no swarm (the swarm phase runs alone, and leaves it).
    @Test func aSwarmEnvironmentOnAnEngineInNoSwarmIsRefusedBeforeAnythingIsRecorded() throws {
        guard Docker.require() else { return }
        let f = EngineFixture("noswarm")
        defer { try? FileManager.default.removeItem(atPath: f.dir) }
        f.write(#""web": { "image": "devstack/busybox:1.36" }"#, extra: #""engine": { "kind": "swarm" },"#)
        let refused = f.devstack(["apply", f.file])
        #expect(refused.code == 1)
        #expect(refused.stderr == "devstack: error: the engine at unix:///var/run/docker.sock is not part of a swarm (docker swarm init makes it a manager), and the environment asks for the swarm engine; nothing was recorded\n", "\(refused.output)")
        #expect(!FileManager.default.fileExists(atPath: f.state), "the state database is not even created")
    }

    @Test func anEnvironmentAppliesOverSSHAndAnUnknownHostKeyIsRefused() throws {
        guard Docker.require() else { return }
        let ssh = try TestSSHServer()
        defer { ssh.stop() }
        let f = EngineFixture("ssh")
        defer { f.tearDown() }
        f.write(Self.services)
        let remote = ["DOCKER_HOST": ssh.dockerHost, "DEVSTACK_SSH_CONFIG": ssh.config]
        let applied = f.devstack(["apply", f.file], environment: remote)
        #expect(applied.code == 0, "\(applied.output)\n\(ssh.server.output)")
        #expect(Docker.run(["inspect", "-f", "{{.State.Running}}", f.container("web")]).stdout == "true\n", "the containers run on the engine behind ssh")
        let status = f.devstack(["status", "--json"], environment: remote)
        #expect(status.code == 0)
        let states = status.stdout.components(separatedBy: "\n").filter { $0.contains("\"state\" :") }.map { $0.trimmingCharacters(in: .whitespaces) }
        #expect(states == ["\"state\" : \"running\"", "\"state\" : \"running\""], "\(status.output)")
        let exec = f.devstack(["exec", "web", "--", "sh", "-c", "echo $MODE"], environment: remote)
        #expect(exec.stdout == "dev\n", "\(exec.output)")
        let stranger = f.devstack(["status"], environment: ["DOCKER_HOST": ssh.dockerHost, "DEVSTACK_SSH_CONFIG": ssh.strangerConfig])
        #expect(stranger.code == 1)
        #expect(stranger.stderr.contains("Host key verification failed"), "\(stranger.output)")
    }

    @Test func anEnvironmentRunsOnADockerdThatSpeaksTLSAndAnotherCAIsRefused() throws {
        guard Docker.require() else { return }
        let engine = try TestTLSEngine()
        defer { engine.stop() }
        // A second engine on this machine leaves the main engine's default bridge in place.
        #expect(CLI.run("ip", ["link", "show", "docker0"]).code == 0, "the TLS engine removed docker0")
        let f = EngineFixture("tls")
        defer { f.devstack(["down", "--volumes"], environment: engine.environment) }
        let published = freeLoopbackPort()
        f.write("""
            "web": { "image": "devstack/busybox:1.36", "pullPolicy": "never", "command": ["httpd", "-f", "-p", "80", "-h", "/www"], "env": { "MODE": "tls" },
                     "ports": ["\(published):80"],
                     "healthcheck": { "command": ["wget", "-q", "-O", "/dev/null", "http://127.0.0.1/"], "interval": "1s", "retries": 10 } },
            "talker": { "image": "devstack/busybox:1.36", "pullPolicy": "never", "command": ["sh", "-c", "echo hello over tls; sleep 1000"],
                        "dependsOn": { "web": "healthy" } }
            """)
        let applied = f.devstack(["apply", f.file], environment: engine.environment)
        #expect(applied.code == 0, "\(applied.output)\n\(engine.server.output.suffix(1500))")
        #expect(Docker.run(["inspect", f.container("web")]).code == 1, "the containers are on the TLS engine, not this machine's")
        let status = f.devstack(["status", "--json"], environment: engine.environment)
        let states = status.stdout.components(separatedBy: "\n").filter { $0.contains("\"state\" :") }.map { $0.trimmingCharacters(in: .whitespaces) }
        #expect(states == ["\"state\" : \"running\"", "\"state\" : \"running\""], "\(status.output)")
        #expect(status.stdout.contains("\"127.0.0.1:\(published)->80/tcp on 127.0.0.1\""), "a published port is on the engine's machine: \(status.output)")
        let logs = f.devstack(["logs", "talker"], environment: engine.environment)
        #expect(logs.stdout.hasSuffix("hello over tls\n"), "\(logs.output)")
        let exec = f.devstack(["exec", "web", "--", "sh", "-c", "echo $MODE"], environment: engine.environment)
        #expect(exec.stdout == "tls\n", "\(exec.output)")
        // A bind source the engine's machine does not have: refused before anything changes.
        let nowhere = "/nonexistent-devstack-\(f.name)"
        f.write("""
            "web": { "image": "devstack/busybox:1.36", "pullPolicy": "never", "command": ["httpd", "-f", "-p", "80", "-h", "/www"],
                     "volumes": [{ "type": "bind", "source": "\(nowhere)", "target": "/srv", "outsideProject": true }] }
            """)
        let missing = f.devstack(["apply", f.file], environment: engine.environment)
        #expect(missing.code == 1)
        #expect(missing.output.contains("services.web.volumes: the bind source \(nowhere) does not exist on 127.0.0.1, where the engine runs"), "\(missing.output)")
        #expect(f.devstack(["exec", "web", "--", "sh", "-c", "echo $MODE"], environment: engine.environment).stdout == "tls\n", "the running web was left as it was")
        var stranger = engine.environment
        stranger["DOCKER_CERT_PATH"] = engine.strangerCerts
        let refused = f.devstack(["status"], environment: stranger)
        #expect(refused.code == 1)
        #expect(refused.stderr == "devstack: error: cannot reach the Docker engine at \(engine.dockerHost): its TLS certificate is not trusted by the CA in DOCKER_CERT_PATH (certificate verify failed)\n",
                "\(refused.output)")
    }

    /// The remote end is this machine, so the published port is on its loopback: only a
    /// forward that runs on the engine's machine (ssh -W) reaches it.
    @Test func aTunnelBringsARemoteEnginesPortToThisMachinesLoopback() throws {
        guard Docker.require() else { return }
        let ssh = try TestSSHServer()
        defer { ssh.stop() }
        let f = EngineFixture("tunnel")
        defer { f.tearDown() }
        let published = freeLoopbackPort(), local = freeLoopbackPort()
        f.write(#""web": { "image": "devstack/busybox:1.36", "pullPolicy": "never", "command": ["httpd", "-f", "-p", "80", "-h", "/www"], "ports": ["127.0.0.1:\#(published):80"] }"#)
        let remote = ["DOCKER_HOST": ssh.dockerHost, "DEVSTACK_SSH_CONFIG": ssh.config, "DEVSTACK_STATE": f.state, "NO_COLOR": "1"]
        #expect(f.devstack(["apply", f.file], environment: remote).code == 0)
        let tunnel = try BackgroundServer([CLI.binary, "tunnel", "--port-offset=\(local - published)"], log: f.dir + "/tunnel.log", environment: remote)
        defer { tunnel.stop() }
        #expect(tunnel.wait(seconds: 20) { tunnel.output.contains("Ctrl-C") }, "\(tunnel.output)")
        #expect(tunnel.output.hasPrefix("web: http://127.0.0.1:\(local) → 127.0.0.1:\(published)->80/tcp on 127.0.0.1\n"), "\(tunnel.output)")
        let page = CLI.run("curl", ["-s", "--max-time", "10", "http://127.0.0.1:\(local)/"])
        #expect(page.stdout == "<html><body>devstack test page</body></html>\n", "\(page.output)\n\(tunnel.output)")
        let here = f.devstack(["tunnel"])
        #expect(here.code == 1)
        #expect(here.stderr == "devstack: error: the engine runs on this machine (unix:///var/run/docker.sock): its published ports are here already\n", "\(here.output)")
    }
}
