import Foundation
import Testing
import TestSupport

/// Networks and aliases on the real dockerd: every alias resolves through the engine's DNS from
/// every service on that network; external networks are used and left alone.
@Suite(.serialized) struct NetworkTests {
    func resolves(_ f: EngineFixture, from service: String, _ name: String) -> String? {
        let r = Docker.run(["exec", f.container(service), "nslookup", name])
        guard r.code == 0 else { return nil }
        // busybox nslookup: the answer's "Address: …" lines come after the server's.
        let addresses = r.stdout.split(separator: "\n").filter { $0.hasPrefix("Address") }.map { String($0.split(separator: " ").last ?? "") }
        return addresses.count >= 2 ? addresses.last : nil
    }

    @Test func aliasesResolveOnEveryNetworkAndExternalNetworksStay() throws {
        guard Docker.require() else { return }
        let f = EngineFixture("net")
        let external = "\(f.name)-outside"
        #expect(Docker.run(["network", "create", external]).code == 0)
        defer {
            f.tearDown()
            Docker.run(["network", "rm", external])
        }
        let sleeper = #""image": "devstack/busybox:1.36", "pullPolicy": "never", "command": ["sh", "-c", "trap exit TERM; while true; do sleep 1; done"]"#
        // backend's subnet is outside the engine's default pools (172.17–31.0.0/16 and
        // 192.168.0.0/20 steps): an engine with many networks hands 172.31.0.0/16 to the next.
        func write(alias: String) {
            f.write("""
                "db": { \(sleeper),
                        "networks": { "default": { "aliases": ["\(alias)"] },
                                      "backend": { "aliases": ["db.backend"], "ipv4Address": "10.214.250.10" } } },
                "web": { \(sleeper), "networks": ["default", "shared"] },
                "worker": { \(sleeper), "networks": ["backend"] }
                """, extra: """
                "networks": { "backend": { "internal": true, "subnets": ["10.214.250.0/24"] },
                              "shared": { "external": true, "name": "\(external)" } },
                """)
        }
        write(alias: "edx.devstack.mysql80")
        let applied = f.devstack(["apply", f.file])
        #expect(applied.code == 0, "\(applied.output)")

        #expect(resolves(f, from: "web", "edx.devstack.mysql80") != nil, "web reaches db by its alias on the default network")
        #expect(resolves(f, from: "web", "db") != nil)
        #expect(resolves(f, from: "worker", "db.backend") == "10.214.250.10", "worker reaches db's fixed address on backend")
        #expect(resolves(f, from: "worker", "edx.devstack.mysql80") == nil, "the default network's alias is not on backend")
        #expect(f.inspect("\(f.name)-backend", "{{.Internal}}") == "true")
        #expect(f.inspect(f.container("web"), "{{range $k, $v := .NetworkSettings.Networks}}{{$k}} {{end}}") == "\(f.name)-net \(external)")

        // A changed alias recreates exactly the container that has it.
        write(alias: "edx.devstack.mysql57")
        let diff = f.devstack(["diff", "-f", f.file])
        #expect(diff.stdout.contains("~ recreate db"), "\(diff.output)")
        #expect(!diff.stdout.contains("web") && !diff.stdout.contains("worker"), "\(diff.output)")
        #expect(f.devstack(["apply", f.file]).code == 0)
        #expect(resolves(f, from: "web", "edx.devstack.mysql57") != nil)

        let down = f.devstack(["down"])
        #expect(down.code == 0, "\(down.output)")
        #expect(f.inspect(external, "{{.Name}}") == external, "down leaves the external network")
        #expect(f.inspect("\(f.name)-backend", "{{.Name}}") == nil)
    }

    @Test func aMissingExternalNetworkIsAProblemNotACreate() throws {
        guard Docker.require() else { return }
        let f = EngineFixture("netx")
        defer { f.tearDown() }
        f.write(#""web": { "image": "devstack/busybox:1.36", "pullPolicy": "never", "networks": ["shared"] }"#,
                extra: #""networks": { "shared": { "external": true, "name": "devstack-test-no-such-network" } },"#)
        let applied = f.devstack(["apply", f.file])
        #expect(applied.code == 1, "\(applied.output)")
        #expect(applied.stderr.contains("external network \"devstack-test-no-such-network\" does not exist"), "\(applied.stderr)")
        #expect(f.inspect("devstack-test-no-such-network", "{{.Name}}") == nil)
    }
}
