import Testing
@testable import EnvSpec

/// Canonical JSON is what spec hashes are taken over: its bytes must never change, whatever path
/// writes a string.
@Suite struct CanonicalStringTests {
    @Test func plainStringsAreWrittenAsTheyAre() {
        #expect(CanonicalJSON.encode(.string("busybox:1.36 é ✓")) == "\"busybox:1.36 é ✓\"")
    }

    @Test func quotesBackslashesAndControlCharactersAreEscaped() {
        #expect(CanonicalJSON.encode(.string("a\"b\\c\nd\re\tf\u{1}g\u{7F}")) == "\"a\\\"b\\\\c\\nd\\re\\tf\\u0001g\u{7F}\"")
    }

    @Test func theHashOfAKnownValueStaysTheSame() {
        let text = CanonicalJSON.encode(.obj([("image", .string("busybox")), ("note", .string("a\"b"))]))
        #expect(text == "{\"image\":\"busybox\",\"note\":\"a\\\"b\"}")
        // sha256sum of that text, computed outside devstack.
        #expect(CanonicalJSON.sha256(text) == "20c852528abddf67fe71a4d709c50bef91e43104da56864a287b25cd4d478d94")
    }

    /// The environment's form is composed from its services' forms, each encoded once: it must
    /// be byte for byte the generic encoding of the whole tree, or every recorded hash would move.
    @Test func theComposedEnvironmentFormIsTheGenericEncoding() throws {
        let loaded = try load(["/p/env.json": """
            {"name": "shop", "secrets": {"token": {"fromEnv": "TOKEN"}}, "configs": {"app": {"content": "a: 1"}},
             "networks": {"back": {"internal": true}},
             "seeds": {"s": {"service": "db", "exec": ["true"]}},
             "services": {"db": {"image": "busybox", "volumes": ["data:/data"], "networks": ["back"]},
                          "web": {"image": "busybox", "env": {"Q": "a\\\"b"}, "dependsOn": {"db": "started"}},
                          "web-2": {"image": "busybox"}, "web_1": {"image": "busybox"}}}
            """], host: ["TOKEN": "x"])
        let spec = loaded.spec
        #expect(spec.canonicalForms.environment == CanonicalJSON.encode(spec.canonical))
        #expect(spec.hashes.services == spec.services.mapValues { $0.specHash })
        #expect(spec.hashes.environment == CanonicalJSON.sha256(CanonicalJSON.encode(spec.canonical)))
    }
}
