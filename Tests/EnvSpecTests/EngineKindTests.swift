import Testing
@testable import EnvSpec

/// `"engine": {"kind": …}` and a service's `deploy`: what each engine kind accepts, and a
/// canonical form that leaves earlier revisions' hashes as they were.
@Suite struct EngineKindTests {
    static let swarm = """
        {
          "name": "shop",
          "engine": { "kind": "swarm" },
          "services": {
            "web": { "image": "devstack/busybox:1.36",
                     "deploy": { "replicas": 2, "placement": { "constraints": ["node.labels.zone==eu", "node.role != manager"] },
                                 "reservations": { "memory": "64m", "cpus": 0.5 } } },
            "db": { "image": "devstack/busybox:1.36" }
          }
        }
        """

    @Test func aSwarmEnvironmentKeepsItsEngineAndPlacementThroughTheCanonicalForm() throws {
        let spec = try load(["/p/env.json": Self.swarm]).spec
        #expect(spec.engine == .swarm)
        #expect(spec.services["web"]!.deploy.replicas == 2)
        #expect(spec.services["web"]!.deploy.constraints == ["node.labels.zone==eu", "node.role != manager"])
        #expect(spec.services["web"]!.deploy.reservations == ResourcesSpec(memoryBytes: 64 << 20, milliCPUs: 500))
        let web = spec.services["web"]!.canonicalJSON
        #expect(web.contains(#""deploy":{"placement":{"constraints":["node.labels.zone==eu","node.role != manager"]},"replicas":2,"reservations":{"cpus":0.5,"memory":67108864}}"#), "\(web)")
        #expect(CanonicalJSON.encode(spec.settingsCanonical).contains(#""engine":{"kind":"swarm"}"#))
        let back = try EnvironmentSpec.decodeCanonical(json: CanonicalJSON.encode(spec.canonical), source: "store")
        #expect(back == spec)
    }

    @Test func theDefaultsLeaveTheCanonicalFormAsItWasBeforeEngines() throws {
        let spec = try load(["/p/env.json": good], host: ["DB_PASSWORD": "x"]).spec
        #expect(spec.engine == .docker)
        #expect(!CanonicalJSON.encode(spec.canonical).contains("engine"))
        #expect(!CanonicalJSON.encode(spec.canonical).contains("deploy"))
        let explicit = good.replacingOccurrences(of: #""name": "shop","#, with: #""name": "shop", "engine": {"kind": "docker"},"#)
        #expect(explicit != good)
        #expect(try load(["/p/env.json": explicit], host: ["DB_PASSWORD": "x"]).spec.specHash == spec.specHash)
    }

    @Test func theCommandLineEngineOverridesTheFiles() throws {
        var loader = EnvironmentLoader(readFile: { _ in Self.swarm }, hostEnvironment: [:], currentDirectory: "/p")
        loader.engine = .docker
        #expect(throws: ValidationFailure.self) { try loader.load("env.json") }
        loader.engine = .swarm
        #expect(try loader.load("env.json").spec.engine == .swarm)
    }

    @Test func eachEngineRefusesWhatItCannotHonour() {
        let onDocker = Self.swarm.replacingOccurrences(of: #""engine": { "kind": "swarm" },"#, with: "")
        #expect(errors(onDocker) == [
            #"env.json: services.web.deploy.replicas: replicas other than 1 need the swarm engine ("engine": {"kind": "swarm"})"#,
            #"env.json: services.web.deploy.placement: placement constraints need the swarm engine ("engine": {"kind": "swarm"})"#,
            #"env.json: services.web.deploy.reservations: reservations need the swarm engine ("engine": {"kind": "swarm"}); one engine has "resources" limits"#,
        ])
        let onSwarm = """
            {"name": "shop", "engine": {"kind": "swarm"},
             "services": {"web": {"build": "web", "ports": ["8080:80", {"hostIP": "0.0.0.0", "containerPort": 443}], "volumes": ["data:/data"]}},
             "seeds": {"schema": {"service": "web", "exec": ["true"]}, "rows": {"volume": "data", "copy": "rows.tar"}}}
            """
        #expect(errors(onSwarm) == [
            #"env.json: services.web.build: a swarm's nodes pull their images: build and push the image to a registry, then name it in "image""#,
            #"env.json: services.web.ports[0]: a swarm publishes a port on every interface of the node that runs the task, not on 127.0.0.1: write "hostIP": "0.0.0.0" to accept that"#,
            #"env.json: seeds.rows: a seed into a volume is not supported on the swarm engine: the volume lives on the node that runs its task, which the manager's API does not reach; seed through the service ("exec" or "run") instead (docs/distributed.md)"#,
        ])
    }

    @Test func aMalformedEngineOrDeployIsNamedWithItsPath() {
        #expect(errors(#"{"name": "a", "engine": {"kind": "kubernetes"}, "services": {}}"#) == [
            #"env.json: engine.kind: expected one of "docker", "swarm", found "kubernetes""#,
        ])
        #expect(errors(#"{"name": "a", "engine": {}, "services": {}}"#) == [#"env.json: engine: expected "kind": "docker" or "swarm""#])
        let deploy = #"{"name": "a", "engine": {"kind": "swarm"}, "services": {"w": {"image": "x", "deploy": {"replicas": -1, "placement": {"constraints": ["zone=eu", "node.labels.a==b==c", "node.labels.ok==1"]}, "update": 1}}}}"#
        #expect(errors(deploy) == [
            #"env.json: services.w.deploy.update: unknown key "update""#,
            "env.json: services.w.deploy.replicas: expected a whole number from 0 to 1000, found -1",
            #"env.json: services.w.deploy.placement.constraints[0]: expected a constraint such as "node.labels.zone==eu" or "node.role!=manager" (node.* or engine.labels.*, == or !=), found "zone=eu""#,
            #"env.json: services.w.deploy.placement.constraints[1]: expected a constraint such as "node.labels.zone==eu" or "node.role!=manager" (node.* or engine.labels.*, == or !=), found "node.labels.a==b==c""#,
        ])
    }
}
