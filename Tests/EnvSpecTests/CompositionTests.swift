import Testing
@testable import EnvSpec

@Suite struct CompositionTests {
    @Test func includesMergeAndTheRootOverrides() throws {
        let files = [
            "/p/env.json": #"{"name": "lms", "include": ["../mysql/env.json"], "services": {"lms": {"image": "lms", "dependsOn": ["mysql"], "volumes": ["./src:/app"]}, "cache": {"image": "mine"}}}"#,
            "/mysql/env.json": #"{"name": "mysql", "services": {"mysql": {"image": "mysql", "volumes": ["./conf:/etc/mysql"]}, "cache": {"image": "theirs"}}}"#,
        ]
        let spec = try load(files).spec
        #expect(spec.serviceNames == ["cache", "lms", "mysql"])
        #expect(spec.services["cache"]?.image == "mine")
        // Paths in an included file are rebased onto the root file's folder.
        #expect(spec.services["mysql"]?.volumes.first?.source == "../mysql/conf")
        #expect(spec.services["lms"]?.volumes.first?.source == "src")
        #expect(try EnvironmentSpec.decodeCanonical(json: spec.canonicalJSON, source: "stored") == spec, "the recorded form reads back")
    }

    @Test func includesStayInTheWorkspaceAndBindsInTheirProject() {
        func problems(_ files: [String: String], root: String = "/w/p/env.json", host: [String: String] = [:]) -> [String] {
            do { _ = try load(files, root: root, host: host); return [] } catch { return error.diagnostics.map(\.description) }
        }
        let sibling = #"{"name": "s", "services": {"s": {"image": "s"}}}"#
        #expect(problems(["/w/p/env.json": #"{"name": "p", "include": ["../s/env.json"], "services": {}}"#, "/w/s/env.json": sibling]) == [])
        #expect(problems(["/w/p/env.json": #"{"name": "p", "include": ["../../etc/env.json"], "services": {}}"#])
            == ["/w/p/env.json: include[0]: \"../../etc/env.json\" leaves the workspace /w (set DEVSTACK_WORKSPACE to widen it)"])
        #expect(problems(["/w/p/env.json": #"{"name": "p", "include": ["/etc/env.json"], "services": {}}"#])
            == ["/w/p/env.json: include[0]: expected a path relative to this file, found \"/etc/env.json\""])
        #expect(problems(["/w/p/env.json": #"{"name": "p", "services": {"a": {"image": "a", "volumes": ["/var/run/docker.sock:/s"]}}}"#])
            == ["/w/p/env.json: services.a.volumes[0]: bind source \"/var/run/docker.sock\" is outside the project folder: write the long form with \"outsideProject\": true to share it with the container"])
        #expect(problems(["/w/p/env.json": #"{"name": "p", "services": {"a": {"image": "a", "volumes": ["../secrets:/s"]}}}"#]).count == 1)
        #expect(problems(["/w/p/env.json": #"{"name": "p", "services": {"a": {"image": "a", "volumes": [{"type": "bind", "source": "/var/run/docker.sock", "target": "/s", "outsideProject": true}]}}}"#]) == [])
    }

    @Test func twoIncludesDefiningOneServiceConflict() {
        let files = [
            "/p/env.json": #"{"name": "p", "include": ["a.json", "b.json"], "services": {}}"#,
            "/p/a.json": #"{"name": "a", "services": {"redis": {"image": "r:1"}}}"#,
            "/p/b.json": #"{"name": "b", "services": {"redis": {"image": "r:2"}}}"#,
        ]
        do {
            _ = try load(files)
            Issue.record("expected a conflict")
        } catch {
            #expect(error.diagnostics.count == 1)
            #expect(error.diagnostics[0].description.contains("services.redis: also defined in"))
        }
    }

    @Test func profilesSelectServices() throws {
        let json = #"{"name": "p", "services": {"web": {"image": "w"}, "debug": {"image": "d", "profiles": ["debug"]}}}"#
        #expect(try load(["/p/env.json": json]).spec.serviceNames == ["web"])
        #expect(try load(["/p/env.json": json], profiles: ["debug"]).spec.serviceNames == ["debug", "web"])
    }

    @Test func interpolationHandlesDefaultsAndEscapes() {
        let lookup: (String) -> String? = { ["A": "1", "EMPTY": ""][$0] }
        #expect(Interpolation.expand("x${A}y", lookup: lookup) == .success("x1y"))
        #expect(Interpolation.expand("${EMPTY:-d}", lookup: lookup) == .success("d"))
        #expect(Interpolation.expand("${EMPTY-d}", lookup: lookup) == .success(""))
        #expect(Interpolation.expand("$${A} costs $5", lookup: lookup) == .success("${A} costs $5"))
        #expect(Interpolation.expand("${B}", lookup: lookup) == .failure(.undefined("B")))
        #expect(Interpolation.expand("${A", lookup: lookup) == .failure(.unterminated))
    }
}

@Suite struct HashingTests {
    @Test func keyOrderAndWhitespaceDoNotChangeTheHash() throws {
        let a = #"{"name": "x", "services": {"a": {"image": "i", "env": {"A": "1", "B": "2"}}, "b": {"image": "j"}}}"#
        let b = "{\n  \"services\": {\n    \"b\": {\"image\": \"j\"},\n    \"a\": {\"env\": {\"B\": \"2\", \"A\": \"1\"}, \"image\": \"i\"}\n  },\n  \"name\": \"x\"\n}"
        let x = try load(["/p/env.json": a]).spec, y = try load(["/p/env.json": b]).spec
        #expect(x.specHash == y.specHash)
        #expect(x.services["a"]!.specHash == y.services["a"]!.specHash)
    }

    @Test func writtenDefaultsHashLikeOmittedOnes() throws {
        let short = #"{"name": "x", "services": {"a": {"image": "i", "ports": ["8000:80"], "dependsOn": []}}}"#
        let long = #"{"name": "x", "services": {"a": {"image": "i", "pullPolicy": "missing", "restart": "no", "init": true, "ports": [{"hostIP": "127.0.0.1", "hostPort": 8000, "containerPort": 80, "protocol": "tcp"}]}}}"#
        #expect(try load(["/p/env.json": short]).spec.specHash == load(["/p/env.json": long]).spec.specHash)
    }

    @Test func anyChangeChangesTheHash() throws {
        let a = try load(["/p/env.json": #"{"name": "x", "services": {"a": {"image": "i", "env": {"A": "1"}}}}"#]).spec
        let b = try load(["/p/env.json": #"{"name": "x", "services": {"a": {"image": "i", "env": {"A": "2"}}}}"#]).spec
        #expect(a.specHash != b.specHash)
        #expect(a.services["a"]!.specHash != b.services["a"]!.specHash)
    }

    @Test func canonicalFormRoundTrips() throws {
        let spec = try load(["/p/env.json": good]).spec
        let again = try EnvironmentSpec.decodeCanonical(json: spec.canonicalJSON, source: "canonical")
        #expect(again == spec)
        #expect(again.specHash == spec.specHash)
    }

    @Test func diffNamesExactlyTheChangedField() throws {
        let a = try load(["/p/env.json": #"{"name": "x", "services": {"a": {"image": "i", "env": {"A": "1"}}, "b": {"image": "j"}}}"#]).spec
        let b = try load(["/p/env.json": #"{"name": "x", "services": {"a": {"image": "i", "env": {"A": "2"}}, "c": {"image": "k"}}}"#]).spec
        let diff = SpecDiff(from: a, to: b)
        #expect(diff.entries.map { "\($0.kind) \($0.name)" } == ["changed a", "removed b", "added c"])
        #expect(diff.entries[0].fields == [SpecDiff.FieldChange(path: "env.A", kind: .changed, old: "\"1\"", new: "\"2\"")])
    }
}

@Suite struct JSONParserTests {
    @Test func parsesEscapesAndNumbers() throws {
        let node = try JSONParser.parse(#"{"a": "x\u00e9\n", "b": [1, -2.5e1, true, null]}"#)
        #expect(node["a"]?.value == .string("xé\n"))
        #expect(node["b"]?.value == .array([JSONNode(.number(1)), JSONNode(.number(-25)), JSONNode(.bool(true)), JSONNode(.null)]))
    }

    @Test func refusesDuplicateKeysAndTrailingGarbage() {
        #expect(throws: JSONSyntaxError.self) { try JSONParser.parse(#"{"a": 1, "a": 2}"#) }
        #expect(throws: JSONSyntaxError.self) { try JSONParser.parse("{} x") }
        #expect(throws: JSONSyntaxError.self) { try JSONParser.parse(String(repeating: "[", count: 1000)) }
    }
}
