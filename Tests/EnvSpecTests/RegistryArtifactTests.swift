import Foundation
import Testing
@testable import EnvSpec

@Suite struct RegistryArtifactTests {
    static let digest = "sha256:" + String(repeating: "ab", count: 32)

    @Test func referencesFollowTheDockerGrammar() throws {
        let full = try OCIReference.parse("oci://registry.example:5000/team/lms-env:v3@\(Self.digest)")
        #expect(full == OCIReference(registry: "registry.example:5000", repository: "team/lms-env", tag: "v3", digest: Self.digest))
        #expect(full.description == "registry.example:5000/team/lms-env:v3@\(Self.digest)")
        #expect(full.manifestReference == Self.digest)

        let local = try OCIReference.parse("localhost/a/b")
        #expect(local.registry == "localhost" && local.repository == "a/b" && local.manifestReference == "latest" && local.isLoopback)
        #expect(try OCIReference.parse("127.0.0.1:5443/x:1").isLoopback)
        #expect(try OCIReference.parse("[::1]:5000/x").hostName == "::1")
        #expect(!(try OCIReference.parse("ghcr.io/org/env:1").isLoopback))

        // No registry part: Docker Hub, with library/ for a single component.
        let hub = try OCIReference.parse("team/env:2")
        #expect(hub.registry == "docker.io" && hub.repository == "team/env" && hub.apiHost == "registry-1.docker.io")
        #expect(try OCIReference.parse("busybox").repository == "library/busybox")
        #expect(try OCIReference.parse("a__b/c-d.e_f--g").repository == "a__b/c-d.e_f--g")
    }

    @Test func badReferencesSayWhatIsWrong() {
        func reason(_ text: String) -> String {
            do { _ = try OCIReference.parse(text); return "accepted" } catch { return error.reason }
        }
        #expect(reason("") == "it is empty")
        #expect(reason("oci://") == "it is empty")
        #expect(reason("host:5000/Team/env") == "the path component \"Team\" is not lower-case letters and digits joined by '.', '_', '__' or '-'")
        #expect(reason("host:5000/team//env") == "it has an empty path component")
        #expect(reason("host:5000/team/env@sha256:abc") == "the digest must be sha256: and 64 lower-case hexadecimal digits")
        #expect(reason("host:5000/team/env@sha256:" + String(repeating: "AB", count: 32)) == "the digest must be sha256: and 64 lower-case hexadecimal digits")
        #expect(reason("host:5000/team/env:-x") == "the tag \"-x\" is not 1 to 128 letters, digits, '_', '.' or '-' (not starting with '.' or '-')")
        #expect(reason("host:99999/env") == "the registry \"host:99999\" is not HOST or HOST:PORT")
        #expect(reason("host:5000/te am") == "it has spaces, control or non-ASCII characters, or is over 1024 characters")
        #expect(reason("host.example/a_-b") == "the path component \"a_-b\" is not lower-case letters and digits joined by '.', '_', '__' or '-'")
    }

    @Test func challengesAreParsedWithQuotedCommas() {
        let bearer = RegistryChallenge.parse(#"Bearer realm="https://auth.example/token",service="registry.example",scope="repository:team/env:pull,push""#)
        #expect(bearer == RegistryChallenge(scheme: .bearer, parameters: ["realm": "https://auth.example/token", "service": "registry.example",
                                                                         "scope": "repository:team/env:pull,push"]))
        #expect(RegistryChallenge.parse(#"Basic realm="say \"hi\"""#) == RegistryChallenge(scheme: .basic, parameters: ["realm": #"say "hi""#]))
        #expect(RegistryChallenge.parse("basic realm=plain") == RegistryChallenge(scheme: .basic, parameters: ["realm": "plain"]))
        #expect(RegistryChallenge.parse("Negotiate abc") == nil)
    }

    @Test func credentialsAreFoundInDockersOrder() throws {
        let alice = Data("alice:pa:ss".utf8).base64EncodedString()
        let json = """
        {"auths": {"https://registry.example:5000/v1/": {"auth": "\(alice)"},
                   "https://index.docker.io/v1/": {"identitytoken": "tok"},
                   "helped.example": {"auth": "\(alice)"}},
         "credHelpers": {"helped.example": "gcloud"}}
        """
        let config = try DockerConfig.parse(Data(json.utf8), file: "config.json")
        #expect(config.source(for: "registry.example:5000") == .basic(username: "alice", password: "pa:ss"))
        #expect(config.source(for: "docker.io") == .identityToken("tok"))
        #expect(config.source(for: "helped.example") == .helper(name: "gcloud", server: "helped.example"))
        #expect(config.source(for: "unknown.example") == nil)

        var stored = config
        stored.credsStore = "pass"
        #expect(stored.source(for: "registry.example:5000") == .helper(name: "pass", server: "registry.example:5000"))
        #expect(stored.source(for: "docker.io") == .helper(name: "pass", server: "https://index.docker.io/v1/"))

        #expect(throws: DockerConfig.Invalid.self) { try DockerConfig.parse(Data(#"{"auths": {"x": {"auth": "bm9jb2xvbg=="}}}"#.utf8), file: "c") }
    }

    static func manifest(archives: [(String, String)]) -> OCIArtifact.Manifest {
        var layers = [OCIArtifact.Descriptor.of(Data("{}".utf8), mediaType: OCIArtifact.bundleMediaType)]
        for (index, (snapshot, volume)) in archives.enumerated() {
            layers.append(OCIArtifact.Descriptor(mediaType: OCIArtifact.snapshotMediaType, digest: "sha256:" + String(repeating: String(index), count: 64), size: 10 + index,
                                                 annotations: [OCIArtifact.Annotation.snapshot: snapshot, OCIArtifact.Annotation.volume: volume]))
        }
        return OCIArtifact.Manifest(layers: layers, annotations: [OCIArtifact.Annotation.environment: "shop"])
    }

    @Test func aManifestRoundTripsAndPicksTheSeedsLayer() throws {
        let manifest = Self.manifest(archives: [("s1", "data"), ("s1", "cache")])
        let data = manifest.data
        #expect(try OCIArtifact.parse(data, source: "r") == manifest)
        #expect(String(decoding: data, as: UTF8.self).hasPrefix(#"{"annotations":{"dev.devstack.environment":"shop"},"artifactType":"application/vnd.devstack.environment.v1+json","config":{"digest":"sha256:44136fa355b3678a1146ad16f7e8649e94fb4fc21fe77e8310c060f61caaff8a","#))
        #expect(try OCIArtifact.layer(for: "cache", in: manifest, source: "r").size == 11)
        #expect(throws: OCIArtifact.Invalid(source: "r", reason: "no snapshot archive for volume \"logs\"; it holds s1/cache, s1/data")) {
            try OCIArtifact.layer(for: "logs", in: manifest, source: "r")
        }
        // The only archive serves any volume name.
        #expect(try OCIArtifact.layer(for: "mysql-data", in: Self.manifest(archives: [("base", "data")]), source: "r").size == 10)
        #expect(throws: OCIArtifact.Invalid(source: "r", reason: "the artifact holds no snapshot archive (was it pushed with --with-data?)")) {
            try OCIArtifact.layer(for: "data", in: Self.manifest(archives: []), source: "r")
        }
    }

    @Test func foreignOrDamagedManifestsAreRefusedByName() {
        func reason(_ text: String) -> String {
            do { _ = try OCIArtifact.parse(Data(text.utf8), source: "r"); return "accepted" } catch { return error.reason }
        }
        let good = String(decoding: Self.manifest(archives: []).data, as: UTF8.self)
        #expect(reason(good) == "accepted")
        #expect(reason(good.replacingOccurrences(of: "devstack.environment.v1", with: "cncf.helm.config.v1")) == "this is not a devstack environment (its artifactType is not application/vnd.devstack.environment.v1+json)")
        #expect(reason(good.replacingOccurrences(of: "\"size\":2", with: "\"size\":-2")) == "config.size: expected a whole number of bytes")
        #expect(reason(good.replacingOccurrences(of: "\"schemaVersion\":2", with: "\"schemaVersion\":1")) == "expected schemaVersion 2")
        #expect(reason("[1]") == "the manifest is not a JSON object")
        #expect(reason("{") .hasPrefix("the manifest is not JSON (line 1: "))
    }

    @Test func aSnapshotSeedFromARegistryIsPinnedByDigest() throws {
        func env(_ seed: String) -> String {
            #"{"name": "s", "services": {"db": {"image": "busybox", "volumes": ["data:/data"]}}, "seeds": {"base": "# + seed + "}}"
        }
        let pinned = "oci://registry.example:5000/team/base@\(Self.digest)"
        let spec = try load(["/p/env.json": env(#"{"volume": "data", "snapshot": "\#(pinned)"}"#)]).spec
        #expect(spec.seeds["base"]?.action == .registrySnapshot(pinned))
        #expect(spec.seeds["base"]?.action.file == nil)
        #expect(errors(env(#"{"volume": "data", "snapshot": "oci://registry.example:5000/team/base:v1"}"#))
                == ["env.json: seeds.base.snapshot: a snapshot from a registry is pinned by digest: expected oci://REGISTRY/PATH[:TAG]@sha256:DIGEST, found \"oci://registry.example:5000/team/base:v1\""])
        #expect(errors(env(#"{"volume": "data", "snapshot": "\#(pinned)", "sha256": "\#(String(repeating: "ab", count: 32))"}"#))
                == ["env.json: seeds.base.sha256: \"sha256\" is not needed with a registry snapshot: its @sha256 digest pins it"])
    }
}
