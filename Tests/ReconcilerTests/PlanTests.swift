import EnvSpec
import StateStore
import Testing
import TestSupport
@testable import Reconciler

let shop = """
{
  "name": "shop",
  "services": {
    "db": { "image": "busybox", "volumes": ["data:/data"], "healthcheck": { "command": ["true"], "interval": "100ms", "timeout": "100ms", "retries": 2 } },
    "cache": { "image": "busybox" },
    "migrate": { "image": "busybox", "command": ["true"], "dependsOn": { "db": "healthy" } },
    "web": { "image": "busybox", "ports": ["8080:80"], "env": { "MODE": "dev" },
             "dependsOn": { "db": "healthy", "cache": "started", "migrate": "completed" },
             "healthcheck": { "command": ["true"], "interval": "100ms", "timeout": "100ms", "retries": 2 } }
  }
}
"""

func plan(_ json: String = shop, engine: FakeEngine, host: FakeHost = FakeHost(), revision: Int = 1, known: [String: ServiceSpec] = [:]) async throws -> Plan {
    let desired = try SpecBuilder.desired(json, revision: revision)
    var observed = try await engine.observe(environment: desired.environment, containerNames: desired.workloads.values.map(\.name), images: desired.imageReferences)
    observed.busyHostPorts = Set(Planner.hostPortsToProbe(desired: desired, observed: observed).filter { !host.isPortFree(hostIP: $0.hostIP, port: $0.port, proto: $0.proto) })
    return Planner.plan(Planner.Inputs(desired: desired, observed: observed, knownSpecs: known))
}

func converge(_ json: String = shop, engine: FakeEngine, revision: Int = 1) async throws -> ExecutionReport {
    let p = try await plan(json, engine: engine, revision: revision)
    return await Executor(engine: engine).run(p, revision: revision)
}

@Suite struct GoldenPlanTests {
    @Test func fromScratch() async throws {
        let engine = FakeEngine(images: ["busybox": "sha256:b1"])
        let p = try await plan(engine: engine)
        #expect(p.problems.isEmpty)
        #expect(p.text == """
            + network shop-net (no network)
            + volume shop-data (no volume)
            + create cache (no existing container)
            + create db (no existing container)
            … wait db healthy (dependents need it healthy)
            + create migrate (no existing container)
            … wait migrate completed (dependents need it completed)
            + create web (no existing container)
            … wait web healthy (converge to healthy)
            """)
        // web waits on db's health, cache's start and migrate's completion.
        let web = p.steps.first { $0.service == "web" && !$0.action.isWait }!
        #expect(web.dependsOn.map { p.steps[$0].text } == ["+ network shop-net", "+ create cache", "… wait db healthy", "… wait migrate completed"])
    }

    @Test func onTheSwarmEngineTheNodesPullAndNoImageStepIsPlanned() async throws {
        let json = #"{"name": "shop", "engine": {"kind": "swarm"}, "services": {"web": {"image": "busybox", "pullPolicy": "always"}, "db": {"image": "mariadb"}}}"#
        let p = try await plan(json, engine: FakeEngine(images: [:]))
        #expect(p.text == """
            + network shop-net (no network)
            + create db (no existing container)
            + create web (no existing container)
            """)
        let docker = try await plan(json.replacingOccurrences(of: #""engine": {"kind": "swarm"}, "#, with: ""), engine: FakeEngine(images: [:]))
        #expect(docker.text == """
            + network shop-net (no network)
            + pull mariadb (image not present)
            + pull busybox (pullPolicy is always)
            + create db (no existing container)
            + create web (no existing container)
            """)
    }

    @Test func convergedIsEmpty() async throws {
        let engine = FakeEngine(images: ["busybox": "sha256:b1"])
        let report = try await converge(engine: engine)
        #expect(report.succeeded)
        let again = try await plan(engine: engine)
        #expect(again.text == "")
        #expect(again.summary == "no changes: the engine matches the desired state")
    }

    @Test func changedEnvRecreatesExactlyThatServiceAndNamesTheField() async throws {
        let engine = FakeEngine(images: ["busybox": "sha256:b1"])
        _ = try await converge(engine: engine)
        let old = try SpecBuilder.parse(shop).services["web"]!
        let changed = shop.replacingOccurrences(of: "\"MODE\": \"dev\"", with: "\"MODE\": \"prod\"")
        let p = try await plan(changed, engine: engine, revision: 2, known: [old.specHash: old])
        #expect(p.text == """
            ~ recreate web (spec changed: env.MODE)
            … wait web healthy (converge to healthy)
            """)
    }

    @Test func unknownOldSpecStillGivesACause() async throws {
        let engine = FakeEngine(images: ["busybox": "sha256:b1"])
        _ = try await converge(engine: engine)
        let changed = shop.replacingOccurrences(of: "\"MODE\": \"dev\"", with: "\"MODE\": \"prod\"")
        let p = try await plan(changed, engine: engine, revision: 2)
        #expect(p.changes.count == 1)
        #expect(p.changes[0].cause.hasPrefix("spec changed ("))
    }

    @Test func driftIsRepaired() async throws {
        let engine = FakeEngine(images: ["busybox": "sha256:b1"])
        _ = try await converge(engine: engine)
        engine.kill("cache")
        engine.delete("web")
        let p = try await plan(engine: engine)
        #expect(p.text == """
            > start cache (container exited (code 137))
            + create web (no existing container)
            … wait web healthy (converge to healthy)
            """)
    }

    @Test func aFinishedOneShotIsLeftAlone() async throws {
        let engine = FakeEngine(images: ["busybox": "sha256:b1"])
        _ = try await converge(engine: engine)
        engine.kill("migrate", code: 0)
        #expect(try await plan(engine: engine).text == "")
        engine.kill("migrate", code: 2)
        #expect(try await plan(engine: engine).changes.map(\.cause) == ["container exited (code 2)"])
    }

    @Test func removedServicesAreRemoved() async throws {
        let engine = FakeEngine(images: ["busybox": "sha256:b1"])
        _ = try await converge(engine: engine)
        let smaller = #"{"name": "shop", "services": {"db": {"image": "busybox", "volumes": ["data:/data"], "healthcheck": {"command": ["true"], "interval": "100ms", "timeout": "100ms", "retries": 2}}}}"#
        let p = try await plan(smaller, engine: engine, revision: 2)
        #expect(p.text == """
            - remove cache (service no longer in the environment)
            - remove migrate (service no longer in the environment)
            - remove web (service no longer in the environment)
            """)
    }

    @Test func aChangedImageIDRecreates() async throws {
        let engine = FakeEngine(images: ["busybox": "sha256:b1"])
        _ = try await converge(#"{"name": "shop", "services": {"cache": {"image": "busybox"}}}"#, engine: engine)
        engine.images["busybox"] = "sha256:b2"
        let p = try await plan(#"{"name": "shop", "services": {"cache": {"image": "busybox"}}}"#, engine: engine)
        #expect(p.text == "~ recreate cache (image busybox changed (sha256:b1 → sha256:b2))".replacingOccurrences(of: "sha256:", with: ""))
    }

    @Test func imagesArePulledOrBuiltByPolicy() async throws {
        let engine = FakeEngine()
        let json = #"{"name": "shop", "services": {"a": {"image": "x:1"}, "b": {"image": "y:1", "pullPolicy": "always"}, "c": {"build": "./c"}}}"#
        let p = try await plan(json, engine: engine)
        let desired = try SpecBuilder.desired(json)
        #expect(p.text.contains("+ pull x:1 (image not present)"))
        #expect(p.text.contains("+ pull y:1 (pullPolicy is always)"))
        #expect(p.text.contains("+ build \(desired.builds["c"]!.tag) (build context changed or never built)"))
        let never = try await plan(#"{"name": "shop", "services": {"a": {"image": "x:1", "pullPolicy": "never"}}}"#, engine: engine)
        #expect(never.problems == [#"services.a.image: image "x:1" is not present and pullPolicy is "never": build or load it first"#])
    }

    @Test func busyHostPortsAreProblems() async throws {
        let engine = FakeEngine(images: ["busybox": "sha256:b1"])
        let p = try await plan(engine: engine, host: FakeHost(busyPorts: [8080]))
        #expect(p.problems == ["services.web.ports[0]: host port 127.0.0.1:8080/tcp is already in use by a process devstack does not manage: stop it, or change the port"])
    }

    /// On a remote engine, this machine's ports say nothing, and a bind source must exist on the
    /// engine's machine: one that does not is a problem before anything starts.
    @Test func aRemoteEnginesMissingBindSourceIsAProblemAndLocalPortsAreNotItsConcern() async throws {
        let json = #"{"name": "shop", "services": {"web": {"image": "busybox", "ports": ["127.0.0.1:8080:80"], "volumes": ["./src:/app", "./conf:/etc/app:ro", "data:/data"]}}}"#
        let desired = try SpecBuilder.desired(json)
        #expect(Planner.bindSourcesToCheck(desired: desired) == ["/project/conf", "/project/src"])
        var observed = ObservedState(images: ["busybox": "sha256:b1"])
        observed.remoteHost = "build-box.example"
        observed.missingBindSources = ["/project/src"]
        let p = Planner.plan(Planner.Inputs(desired: desired, observed: observed, knownSpecs: [:]))
        #expect(p.problems == ["services.web.volumes: the bind source /project/src does not exist on build-box.example, where the engine runs: with a remote engine a bind names a folder of that machine, not of this one; create it there, or use a named volume (docs/remote.md)"])
        observed.missingBindSources = []
        #expect(Planner.plan(Planner.Inputs(desired: desired, observed: observed, knownSpecs: [:])).problems == [])
    }

    @Test func foreignContainersAreProblemsNeverSteps() throws {
        let desired = try SpecBuilder.desired(#"{"name": "shop", "services": {"a": {"image": "busybox"}}}"#)
        let foreign = ObservedContainer(id: "f00dfeedbeef0000", name: "shop-a", labels: [:], state: .running)
        let p = Planner.plan(Planner.Inputs(desired: desired, observed: ObservedState(foreign: [foreign], images: ["busybox": "sha256:b1"])))
        #expect(p.problems.count == 1)
        #expect(p.problems[0].contains("taken by a container devstack does not manage (f00dfeedbeef)"))
        #expect(!p.steps.contains { if case let .remove(id, _) = $0.action { return id == foreign.id } else { return false } })
    }

    @Test func duplicateContainersAreTrimmed() throws {
        let desired = try SpecBuilder.desired(#"{"name": "shop", "services": {"a": {"image": "busybox"}}}"#)
        let labels = desired.workloads["a"]!.labels
        let keep = ObservedContainer(id: "1", name: "shop-a", labels: labels, state: .running, imageID: "sha256:b1")
        let extra = ObservedContainer(id: "2", name: "shop-a-old", labels: labels, state: .exited(code: 0), imageID: "sha256:b1")
        let p = Planner.plan(Planner.Inputs(desired: desired, observed: ObservedState(containers: [extra, keep], networks: ["shop-net"], images: ["busybox": "sha256:b1"])))
        #expect(p.text == "- remove a (duplicate container for the service)")
    }

    /// Killed between creating a successor and starting it, an apply leaves the old container
    /// under its stepped-aside name (perhaps still running) and the new one created: the next
    /// plan starts the new one only once the old one is gone, as they share ports and volumes.
    @Test func anInterruptedReplacementStartsItsSuccessorAfterTheOldOneIsRemoved() throws {
        let desired = try SpecBuilder.desired(#"{"name": "shop", "services": {"a": {"image": "busybox", "ports": ["127.0.0.1:8080:80"]}}}"#)
        var oldLabels = desired.workloads["a"]!.labels
        oldLabels[Labels.specHash] = "0ld"
        let old = ObservedContainer(id: "1", name: "shop-a-replaced-1", labels: oldLabels, state: .running, imageID: "sha256:b1")
        let successor = ObservedContainer(id: "2", name: "shop-a", labels: desired.workloads["a"]!.labels, state: .created, imageID: "sha256:b1")
        let p = Planner.plan(Planner.Inputs(desired: desired, observed: ObservedState(containers: [old, successor], networks: ["shop-net"], images: ["busybox": "sha256:b1"])))
        #expect(p.text == "- remove a (duplicate container for the service)\n> start a (container created but not started)")
        #expect(p.steps.map(\.dependsOn) == [[], [0]])
    }

    @Test func teardownRemovesContainersThenNetwork() {
        let observed = ObservedState(containers: [ObservedContainer(id: "1", name: "shop-a", labels: [Labels.environment: "shop", Labels.service: "a"], state: .running)],
                                     networks: ["shop-net"], volumes: ["shop-data"])
        #expect(Planner.teardown(environment: "shop", observed: observed, removeVolumes: false).text == "- remove a (down)\n- network shop-net (down)")
        #expect(Planner.teardown(environment: "shop", observed: observed, removeVolumes: true).text.hasSuffix("- volume shop-data (down --volumes)"))
    }
}

extension Plan.Step {
    var text: String { Plan(environment: "", steps: [self], problems: []).text.components(separatedBy: " (").first! }
}
