import Testing
@testable import EnvSpec

/// Loads files from a dictionary, so each test states its whole input.
func load(_ files: [String: String], root: String = "/p/env.json", host: [String: String] = [:], profiles: Set<String> = []) throws(ValidationFailure) -> LoadedEnvironment {
    let loader = EnvironmentLoader(readFile: { path in
        guard let text = files[path] else { throw CocoaLikeError.missing }
        return text
    }, hostEnvironment: host, currentDirectory: "/p", profiles: profiles)
    return try loader.load(root.hasPrefix("/p/") ? String(root.dropFirst(3)) : root)
}

enum CocoaLikeError: Error { case missing }

/// The one-line messages a user sees, for a single-file environment.
func errors(_ json: String, host: [String: String] = [:]) -> [String] {
    do {
        _ = try load(["/p/env.json": json], host: host)
        return []
    } catch {
        return error.diagnostics.map(\.description)
    }
}

let good = """
{
  "name": "shop",
  "variables": { "TAG": "1.36" },
  "secrets": { "db": { "fromEnv": "DB_PASSWORD" } },
  "services": {
    "db": { "image": "devstack/busybox:${TAG}", "volumes": ["data:/data"],
            "healthcheck": { "command": ["true"], "interval": "1s" }, "env": { "PASSWORD": { "secret": "db" } } },
    "web": { "image": "devstack/busybox:${TAG}", "command": ["httpd", "-f"], "ports": ["8080:80"],
             "dependsOn": { "db": "healthy" }, "resources": { "memory": "64m", "cpus": 0.5 }, "restart": "on-failure" }
  },
  "seeds": { "schema": { "service": "db", "exec": ["sh", "-c", "true"], "stdin": "seeds/schema.sql" } }
}
"""

@Suite struct ParsingTests {
    @Test func goodFileLoadsWithDefaultsFilledIn() throws {
        let spec = try load(["/p/env.json": good]).spec
        #expect(spec.name == "shop")
        #expect(spec.serviceNames == ["db", "web"])
        let web = spec.services["web"]!
        #expect(web.image == "devstack/busybox:1.36")
        #expect(web.ports == [PortSpec(hostIP: "127.0.0.1", hostPort: 8080, containerPort: 80, proto: "tcp")])
        #expect(web.dependsOn == ["db": .healthy])
        #expect(web.resources == ResourcesSpec(memoryBytes: 64 << 20, milliCPUs: 500))
        #expect(web.restart == .onFailure)
        #expect(spec.services["db"]!.volumes == [MountSpec(type: .volume, source: "data", target: "/data")])
        #expect(spec.services["db"]!.env["PASSWORD"] == .secret("db"))
        #expect(spec.services["db"]!.healthcheck?.intervalMs == 1000)
        #expect(spec.seeds["schema"]?.stdin == "seeds/schema.sql")
        #expect(spec.startOrder == ["db", "web"])
    }

    @Test func malformedJSONNamesLineAndColumn() {
        #expect(errors("{\n  \"name\": \"x\",\n  \"services\": {,}\n}") == ["env.json:3:16: invalid JSON: expected a string key, found ','"])
        #expect(errors("{\"name\": \"x\"") == ["env.json:1:13: invalid JSON: expected ',' or '}', found end of file"])
    }

    @Test func unknownKeysAreNamedWithASuggestion() {
        #expect(errors(#"{"name": "x", "services": {"a": {"image": "i", "comand": ["x"]}}}"#)
                == [#"env.json: services.a.comand: unknown key "comand" (did you mean "command"?)"#])
        #expect(errors(#"{"name": "x", "servics": {}}"#) == [#"env.json: servics: unknown key "servics" (did you mean "services"?)"#])
    }

    @Test func aServiceNeedsAnImageOrABuild() {
        #expect(errors(#"{"name": "x", "services": {"a": {"command": ["x"]}}}"#)
                == [#"env.json: services.a: expected "image" or "build": a service needs one of them"#])
    }

    @Test func badPortsAndVolumesAreExplained() {
        #expect(errors(#"{"name": "x", "services": {"a": {"image": "i", "ports": ["80:http"]}}}"#)
                == [#"env.json: services.a.ports[0]: expected a port such as "8000", "8000:80", "127.0.0.1:8000:80" or "5353:53/udp", found "80:http""#])
        #expect(errors(#"{"name": "x", "services": {"a": {"image": "i", "ports": [{"containerPort": 70000}]}}}"#)
                == ["env.json: services.a.ports[0].containerPort: expected a whole number from 1 to 65535, found 70000"])
        #expect(errors(#"{"name": "x", "services": {"a": {"image": "i", "volumes": ["data"]}}}"#)
                == [#"env.json: services.a.volumes[0]: expected a volume such as "data:/var/lib/mysql" or "./src:/app:ro", found "data""#])
    }

    @Test func duplicateHostPortsAreRefused() {
        #expect(errors(#"{"name": "x", "services": {"a": {"image": "i", "ports": ["8000:80"]}, "b": {"image": "i", "ports": ["8000:81"]}}}"#)
                == ["env.json: services.b.ports[0]: host port 8000/tcp is already published by services.a.ports[0]"])
        // Different protocols do not clash.
        #expect(errors(#"{"name": "x", "services": {"a": {"image": "i", "ports": ["53:53/udp"]}, "b": {"image": "i", "ports": ["53:53"]}}}"#) == [])
    }

    @Test func dependencyCyclesAreNamed() {
        #expect(errors(#"{"name": "x", "services": {"a": {"image": "i", "dependsOn": ["b"]}, "b": {"image": "i", "dependsOn": ["a"]}}}"#)
                == ["env.json: services.a.dependsOn: dependency cycle: a → b → a"])
    }

    @Test func unknownDependenciesSuggestTheClosestService() {
        #expect(errors(#"{"name": "x", "services": {"mysql": {"image": "i"}, "lms": {"image": "i", "dependsOn": ["mysq"]}}}"#)
                == [#"env.json: services.lms.dependsOn.mysq: no service named "mysq" (did you mean "mysql"?)"#])
    }

    @Test func undefinedVariablesAreReported() {
        #expect(errors(#"{"name": "x", "services": {"a": {"image": "i:${TAG}"}}}"#)
                == [#"env.json: services.a.image: variable "TAG" is not defined (set it in "variables" or the environment, or write ${TAG:-default})"#])
        #expect(errors(#"{"name": "x", "services": {"a": {"image": "i:${TAG:-1}"}}}"#) == [])
        #expect(errors(#"{"name": "x", "services": {"a": {"image": "i:${TAG}"}}}"#, host: ["TAG": "2"]) == [])
    }

    @Test func includeLoopsAreNamed() {
        let files = [
            "/p/env.json": #"{"name": "x", "include": ["../q/env.json"], "services": {}}"#,
            "/q/env.json": #"{"name": "q", "include": ["../p/env.json"], "services": {}}"#,
        ]
        #expect(throws: ValidationFailure.self) { try load(files) }
        do { _ = try load(files) } catch {
            #expect(error.diagnostics.map(\.description) == ["../q/env.json: include[0]: include loop: env.json → ../q/env.json → ../p/env.json"])
        }
    }

    @Test func oddNamesAreRefused() {
        #expect(errors(#"{"name": "x", "services": {"Web/1": {"image": "i"}}}"#)
                == [#"env.json: services.Web/1: invalid service name "Web/1": use 1 to 63 lower-case letters, digits, '-' or '_', starting with a letter or digit"#])
    }

    @Test func commandsMustBeArgumentArrays() {
        #expect(errors(#"{"name": "x", "services": {"a": {"image": "i", "command": "echo hi"}}}"#)
                == [#"env.json: services.a.command: expected an array of strings, found a string (write the command as an argument array, e.g. ["sh", "-c", "..."])"#])
    }

    @Test func seedFilesMayNotLeaveTheProject() {
        #expect(errors(#"{"name": "x", "services": {"a": {"image": "i"}}, "seeds": {"s": {"service": "a", "exec": ["x"], "stdin": "../../etc/passwd"}}}"#)
                == [#"env.json: seeds.s.stdin: path "../../etc/passwd" leaves the environment's folder"#])
    }

    @Test func unknownSecretReferencesAreReported() {
        #expect(errors(#"{"name": "x", "services": {"a": {"image": "i", "env": {"P": {"secret": "pw"}}}}}"#)
                == [#"env.json: services.a.env.P: no secret named "pw" in "secrets""#])
    }
}

@Suite struct ConfigTests {
    func env(_ configs: String, services: String) -> String {
        "{\"name\": \"c\", \"configs\": {\(configs)}, \"services\": {\(services)}}"
    }

    @Test func aConfigChangeChangesExactlyTheHashesOfItsUsers() throws {
        let services = """
            "a": {"image": "x", "configs": {"/etc/a.yml": "shared"}},
            "b": {"image": "x", "configs": {"/etc/a.yml": "shared", "/etc/b": "own"}},
            "c": {"image": "x"}
            """
        let one = try load(["/p/env.json": env("\"shared\": {\"file\": \"a.yml\"}, \"own\": {\"content\": \"v=${V}\"}", services: services),
                            "/p/a.yml": "one"], host: ["V": "1"]).spec
        let two = try load(["/p/env.json": env("\"shared\": {\"file\": \"a.yml\"}, \"own\": {\"content\": \"v=${V}\"}", services: services),
                            "/p/a.yml": "two"], host: ["V": "1"]).spec
        let three = try load(["/p/env.json": env("\"shared\": {\"file\": \"a.yml\"}, \"own\": {\"content\": \"v=${V}\"}", services: services),
                              "/p/a.yml": "two"], host: ["V": "2"]).spec
        #expect(one.configs == ["shared": "one", "own": "v=1"])
        let hashes = { (s: EnvironmentSpec) in ["a", "b", "c"].map { s.services[$0]!.specHash } }
        #expect(zip(hashes(one), hashes(two)).map { $0 != $1 } == [true, true, false])
        #expect(zip(hashes(two), hashes(three)).map { $0 != $1 } == [false, true, false])
        // The canonical form reads back to the same spec, digests included.
        #expect(try EnvironmentSpec.decodeCanonical(json: one.canonicalJSON, source: "stored") == one)
    }

    @Test func servicesWithoutConfigsKeepTheirHash() throws {
        let plain = try load(["/p/env.json": "{\"name\": \"c\", \"services\": {\"a\": {\"image\": \"x\"}}}"]).spec
        #expect(!plain.services["a"]!.canonicalJSON.contains("configs"))
        #expect(!plain.canonicalJSON.contains("configs"))
    }

    @Test func badConfigsAreClearErrors() {
        #expect(errors(env("\"a\": {\"file\": \"../outside.yml\"}", services: "")) == ["env.json: configs.a.file: path \"../outside.yml\" leaves the environment's folder"])
        #expect(errors(env("\"a\": {\"file\": \"missing.yml\"}", services: "")) == ["env.json: configs.a.file: cannot read missing.yml: unreadable"])
        #expect(errors(env("\"a\": {\"content\": \"x\", \"file\": \"y\"}", services: "")) == ["env.json: configs.a: expected exactly one of \"content\" or \"file\""])
        #expect(errors(env("\"shared\": {\"content\": \"x\"}", services: "\"s\": {\"image\": \"x\", \"configs\": {\"/etc/x\": \"sahred\"}}"))
            == ["env.json: services.s.configs./etc/x: no config named \"sahred\" in \"configs\" (did you mean \"shared\"?)"])
        #expect(errors(env("\"a\": {\"content\": \"x\"}", services: "\"s\": {\"image\": \"x\", \"configs\": {\"etc/x\": \"a\"}}"))
            == ["env.json: services.s.configs.etc/x: expected an absolute path in the container such as \"/etc/app/app.yml\", found \"etc/x\""])
    }

    @Test func snapshotSeedsNeedADigest() {
        let base = "{\"name\": \"c\", \"services\": {\"db\": {\"image\": \"x\", \"volumes\": [\"data:/d\"]}}, \"seeds\": {\"prod\": %@}}"
        func seedErrors(_ seed: String) -> [String] { errors(base.replacingOccurrences(of: "%@", with: seed)) }
        #expect(seedErrors("{\"volume\": \"data\", \"snapshot\": \"s.tar.gz\", \"sha256\": \"\(String(repeating: "a", count: 64))\"}") == [])
        #expect(seedErrors("{\"volume\": \"data\", \"snapshot\": \"s.tar.gz\"}")
            == ["env.json: seeds.prod: expected \"sha256\": the digest the snapshot archive must have, so a changed file is refused"])
        #expect(seedErrors("{\"volume\": \"data\", \"snapshot\": \"s.tar.gz\", \"sha256\": \"abc\"}") == ["env.json: seeds.prod.sha256: expected 64 hexadecimal digits, found \"abc\""])
        #expect(seedErrors("{\"volume\": \"data\", \"snapshot\": \"/abs.tar.gz\", \"sha256\": \"\(String(repeating: "a", count: 64))\"}")
            == ["env.json: seeds.prod.snapshot: expected a path relative to the environment file, found \"/abs.tar.gz\""])
    }
}

@Suite struct OddNameTests {
    static let odd = ["../x", "A", "a b", "-lead", "x/y", "é", "a;rm", String(repeating: "a", count: 64), ""]

    @Test(arguments: odd)
    func oddNamesAreRefusedEverywhere(name: String) {
        let quoted = name.replacingOccurrences(of: "\"", with: "\\\"")
        let cases = [
            "{\"name\": \"\(quoted)\", \"services\": {}}",
            "{\"name\": \"e\", \"services\": {\"\(quoted)\": {\"image\": \"x\"}}}",
            "{\"name\": \"e\", \"services\": {\"s\": {\"image\": \"x\", \"volumes\": [{\"type\": \"volume\", \"source\": \"\(quoted)\", \"target\": \"/d\"}]}}}",
            "{\"name\": \"e\", \"services\": {\"s\": {\"image\": \"x\"}}, \"seeds\": {\"\(quoted)\": {\"service\": \"s\", \"exec\": [\"true\"]}}}",
            "{\"name\": \"e\", \"configs\": {\"\(quoted)\": {\"content\": \"x\"}}, \"services\": {}}",
        ]
        for json in cases {
            let found = errors(json)
            #expect(found.count >= 1, "accepted \(name.debugDescription) in \(json)")
            #expect(found.allSatisfy { $0.hasPrefix("env.json:") }, "\(found)")
        }
    }
}

/// Every numeric field is checked: a huge value is a range error naming its path, never a trap.
@Suite struct NumericRangeTests {
    @Test func durationsAreCheckedStepByStep() {
        #expect(SpecDecoder.checkedDuration("1h30m") == .value(5_400_000))
        #expect(SpecDecoder.checkedDuration("8760h") == .value(31_536_000_000))
        #expect(SpecDecoder.checkedDuration("8760h1ms") == .tooLarge)
        #expect(SpecDecoder.checkedDuration("99999999999999999h") == .tooLarge)
        #expect(SpecDecoder.checkedDuration("999999999999999999999999s") == .tooLarge)
        #expect(SpecDecoder.checkedDuration("5x") == .invalid)
        #expect(SpecDecoder.checkedDuration("h") == .invalid)
        #expect(SpecDecoder.checkedDuration("5") == .invalid)
    }

    @Test func memorySizesAreChecked() {
        #expect(SpecDecoder.checkedMemory("512m") == .value(536_870_912))
        #expect(SpecDecoder.checkedMemory("2g") == .value(2_147_483_648))
        #expect(SpecDecoder.checkedMemory("9999999999999g") == .tooLarge)
        #expect(SpecDecoder.checkedMemory("1025t") == .tooLarge)
        #expect(SpecDecoder.checkedMemory("-5m") == .invalid)
        #expect(SpecDecoder.checkedMemory("0") == .invalid)
    }
}

/// Large files: parsing, validation and ordering stay linear (no quadratic steps).
@Suite struct LargeFileTests {
    @Test func tenThousandServicesInAChainLoadInOrder() throws {
        var services: [String] = []
        for i in 0..<10_000 {
            services.append("\"s\(i)\": {\"image\": \"x\"\(i > 0 ? ", \"dependsOn\": [\"s\(i - 1)\"]" : ""), \"ports\": [\"\(20_000 + i % 40_000):80\"]}")
        }
        let json = "{\"name\": \"big\", \"services\": {" + services.joined(separator: ", ") + "}}"
        let spec = try load(["/p/env.json": json]).spec
        #expect(spec.services.count == 10_000)
        let order = spec.startOrder
        #expect(order.first == "s0" && order.last == "s9999")
        #expect(order.count == 10_000)
    }

    @Test func aCycleAtTheEndOfALongChainIsFound() {
        var services: [String] = []
        for i in 0..<5_000 { services.append("\"s\(i)\": {\"image\": \"x\", \"dependsOn\": [\"s\((i + 1) % 5_000)\"]}") }
        let json = "{\"name\": \"loop\", \"services\": {" + services.joined(separator: ", ") + "}}"
        let messages = errors(json)
        #expect(messages.count == 1)
        #expect(messages.first?.hasPrefix("env.json: services.s0.dependsOn: dependency cycle: s0 → s1 → s2 → ") == true)
    }
}
