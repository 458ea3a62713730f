import Foundation
import Testing
import TestSupport

/// A 40-service platform-shaped compose project (Tests/IntegrationTests/Fixtures/platform): three
/// files through COMPOSE_FILE in `.env`, `extends` from another file, anchors, network aliases on
/// two networks and an external one. It converges on the real dockerd, every alias a service uses
/// resolves from inside it, and `down` leaves the external network alone.
@Suite(.serialized) struct PlatformTests {
    @Test func aFortyServicePlatformConvergesAndEveryAliasResolves() throws {
        guard Docker.require() else { return }
        let f = EngineFixture("platform")
        let source = CLI.packageRoot.appendingPathComponent("Tests/IntegrationTests/Fixtures/platform")
        for item in try FileManager.default.contentsOfDirectory(atPath: source.path) {
            try FileManager.default.copyItem(atPath: source.appendingPathComponent(item).path, toPath: "\(f.dir)/\(item)")
        }
        let shared = "\(f.name)-shared"
        #expect(Docker.run(["network", "create", shared]).code == 0)
        let env = ["SHARED_NETWORK": shared, "COMPOSE_PROJECT_NAME": f.name]
        defer {
            f.devstack(["down"], environment: env)
            Docker.run(["network", "rm", shared])
            try? FileManager.default.removeItem(atPath: f.dir)
        }

        let applied = f.devstack(["apply", "--timeout", "240"], environment: env)
        #expect(applied.code == 0, "\(applied.output.suffix(3000))")
        let containers = f.containers()
        #expect(containers.count == 40, "\(containers)")

        var lookups = 0
        var failures: [String] = []
        for container in containers {
            let uses = f.inspect(container, "{{index .Config.Labels \"platform.uses\"}}") ?? ""
            for alias in uses.split(separator: ",").map(String.init) where !alias.isEmpty {
                lookups += 1
                let r = Docker.run(["exec", container, "nslookup", alias])
                if r.code != 0 || r.stdout.split(separator: "\n").filter({ $0.hasPrefix("Address") }).count < 2 {
                    failures.append("\(container) → \(alias)")
                }
            }
        }
        #expect(lookups == 115, "lookups made: \(lookups)")
        #expect(failures.isEmpty, "aliases that did not resolve: \(failures)")
        // On the internal backend network, the backend aliases resolve from the apps that join it.
        #expect(Docker.run(["exec", f.container("lms"), "nslookup", "db.backend"]).code == 0)
        #expect(f.inspect(f.container("lms"), "{{index .Config.Env 0}}") != nil)
        #expect(f.inspect(f.container("chrome"), "{{.Name}}") == nil, "a service of an inactive profile is not created")

        let down = f.devstack(["down"], environment: env)
        #expect(down.code == 0, "\(down.output)")
        #expect(f.containers().isEmpty)
        #expect(f.inspect(shared, "{{.Name}}") == shared, "down leaves the external network")
    }
}
