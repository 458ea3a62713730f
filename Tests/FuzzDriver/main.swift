import HostFiles
import ComposeImport
import EnvSpec
import Foundation
import StateStore
import TestSupport

// devstack-fuzz KIND ROOT SEED START COUNT
//
// Runs mutated inputs of one kind (`env`, `compose`, `bundle` or `artifact`) through devstack's parsers, one case at a
// time, and writes "case N" before each one. It is run as a child process by `SignalFuzzTests`:
// when a case crashes it, the parent sees the signal, counts it against that case and starts a
// new child from the next case. So a crash is observed and counted, never assumed away.

let envTokens = ["{", "}", "[", "]", "\"", ":", ",", "null", "true", "-1e999", "1e400", "\"${", "${X:-", "$$", "\\u0000", "\\ud800",
                 "\u{FEFF}", "\"../../etc/passwd\"", "\"/etc/shadow\"", String(repeating: "[", count: 5000), String(repeating: "9", count: 400),
                 "\"99999999999999999h\"", "\"9999999999999g\"", "\"0.0.0.0:80:80\"", "\"outsideProject\"", "\"fromFile\""]
let composeTokens = [":", "- ", "{", "}", "[", "]", "&a ", "*a", "<<: *a", "\n  ", "\t", "!!binary ", "!!str ", "'", "\"", "${", "~", "null",
                     "0x1F", "1e999", "---\n", "%YAML 1.2\n", "? ", "? [a, b]\n: c\n", String(repeating: "[", count: 3000),
                     String(repeating: "- ", count: 400), "yes", "22:22", "$$", "${X:?boom}", "extends: web\n", "networks:\n  n:\n    aliases: [a]\n"]

/// Hostile YAML seeds that once crashed or exhausted YAML readers.
func hostileYAML() -> [String] {
    var bomb = ["a0: &a0 [lol, lol, lol, lol, lol, lol, lol, lol, lol]"]
    for i in 1..<10 { bomb.append("a\(i): &a\(i) [" + Array(repeating: "*a\(i - 1)", count: 9).joined(separator: ", ") + "]") }
    return [
        "services:\n  ? [a, b]\n  : {image: x}\n",
        "services:\n  ? {a: 1}\n  : x\n",
        "services: " + String(repeating: "[", count: 10_000) + String(repeating: "]", count: 10_000) + "\n",
        String(repeating: "- ", count: 5_000) + "x\n",
        bomb.joined(separator: "\n") + "\nservices:\n  web:\n    image: x\n    command: *a9\n",
        "x-base: &base\n  image: x\nservices:\n  web:\n    <<: *base\n    <<: *base\n",
        "services:\n  web:\n    image: !!binary aGVsbG8=\n    ports: [22:22, \"8080:80\"]\n",
    ]
}

let args = CommandLine.arguments
guard args.count == 6, let seed = UInt64(args[3]), let start = Int(args[4]), let count = Int(args[5]) else {
    FileHandle.standardError.write(Data("usage: devstack-fuzz env|compose ROOT SEED START COUNT\n".utf8))
    exit(64)
}
let kind = args[1], root = args[2]
func read(_ path: String) -> String? { try? String(contentsOfFile: root + "/" + path, encoding: .utf8) }

var corpus: [String] = []
switch kind {
case "env":
    corpus = [read("examples/edx-lite/env.json")].compactMap { $0 }
    let bad = root + "/Tests/IntegrationTests/Fixtures/bad"
    for name in ((try? FileManager.default.contentsOfDirectory(atPath: bad)) ?? []).sorted() { if let t = read("Tests/IntegrationTests/Fixtures/bad/" + name) { corpus.append(t) } }
case "compose":
    corpus = ["Tests/ComposeImportTests/Fixtures/features.yml", "Tests/ComposeImportTests/Fixtures/base.yml",
              "Tests/ComposeImportTests/Fixtures/override.yml", "Tests/ComposeImportTests/Fixtures/openedx/docker-compose.yml"].compactMap(read)
    corpus += hostileYAML()
case "bundle":
    // A real bundle of the example, with a lock, a ledger entry and a snapshot with data.
    let project = root + "/examples/edx-lite"
    if let spec = try? EnvironmentLoader(readFile: LocalFiles.read, hostEnvironment: [:], currentDirectory: project, realPath: LocalFiles.realPath).load("env.json").spec {
        var bundle = ExportBundle(revision: .draft(spec, number: 3, projectDirectory: project), exportedBy: "ada", exportedFrom: "laptop")
        bundle.lock = ["lms": ImageLock(reference: "devstack/busybox:1.36", digest: "devstack/busybox@sha256:" + String(repeating: "a", count: 64))]
        bundle.seeds = ["schema": .init(checksum: String(repeating: "b", count: 64), status: "succeeded", revision: 3)]
        let archive = Data([0x1F, 0x8B, 0x08, 0x00, 0x00, 0x00])
        bundle.snapshots = [SnapshotRecord(name: "seeded", revision: 3, volumes: [.init(volume: "mysql-data", archive: "x", sha256: CanonicalJSON.sha256(archive), bytes: archive.count)])]
        bundle.archives = ["seeded/mysql-data": archive]
        corpus = [bundle.text]
    }
case "artifact":
    // What a registry or docker's config hands us: a manifest, credentials, a challenge, references.
    let layer = OCIArtifact.Descriptor(mediaType: OCIArtifact.snapshotMediaType, digest: "sha256:" + String(repeating: "c", count: 64), size: 9,
                                       annotations: [OCIArtifact.Annotation.snapshot: "s", OCIArtifact.Annotation.volume: "data"])
    let manifest = OCIArtifact.Manifest(layers: [.of(Data("{}".utf8), mediaType: OCIArtifact.bundleMediaType), layer], annotations: ["a": "b"])
    corpus = [String(decoding: manifest.data, as: UTF8.self),
              #"{"auths": {"r.example:5000": {"auth": "YWxpY2U6czNjcmV0"}, "https://index.docker.io/v1/": {"identitytoken": "t"}}, "credHelpers": {"x.io": "pass"}, "credsStore": "desktop"}"#,
              #"Bearer realm="https://auth.example/token",service="registry.example",scope="repository:team/env:pull,push""#,
              "oci://registry.example:5000/team/lms-env:v3@sha256:" + String(repeating: "ab", count: 32)]
case "self-test":
    // Proves the counting: every case 7 mod 100 traps, as a force-unwrap of nil would.
    corpus = ["x"]
default:
    FileHandle.standardError.write(Data("unknown kind \(kind)\n".utf8))
    exit(64)
}
guard !corpus.isEmpty else { FileHandle.standardError.write(Data("empty corpus under \(root)\n".utf8)); exit(66) }

let project = root + "/examples/edx-lite"
for index in start..<(start + count) {
    // Each case has its own generator, so a restarted child reproduces exactly the same cases.
    var random = SplitMix(state: seed &+ UInt64(index) &* 0x100000001B3)
    let base = corpus[index % corpus.count]
    // One case in ten is a corpus file as it is, hostile seeds included.
    let text = index % 10 == 0 ? base : Mutation.mutate(base, tokens: kind == "compose" ? composeTokens : envTokens, &random)
    FileHandle.standardOutput.write(Data("case \(index)\n".utf8))
    switch kind {
    case "self-test":
        if index % 100 == 7 { fatalError("self-test crash at case \(index)") }
    case "bundle":
        _ = try? ExportBundle.read(text, file: "b.json")
    case "artifact":
        if let manifest = try? OCIArtifact.parse(Data(text.utf8), source: "m") { _ = try? OCIArtifact.layer(for: "data", in: manifest, source: "m") }
        if let config = try? DockerConfig.parse(Data(text.utf8), file: "config.json") { _ = config.source(for: "r.example:5000") }
        _ = RegistryChallenge.parse(text)
        _ = try? OCIReference.parse(text)
    case "env":
        let loader = EnvironmentLoader(readFile: { path in path == project + "/env.json" ? text : try LocalFiles.read(path) },
                                       hostEnvironment: ["LMS_PORT": "18000"], currentDirectory: project, realPath: LocalFiles.realPath)
        _ = try? loader.load("env.json")
    default:
        _ = try? ComposeImporter.convert([.init(display: "c.yml", text: text)], projectDirectory: project, readFile: { _ in throw CocoaError(.fileNoSuchFile) })
    }
}
FileHandle.standardOutput.write(Data("done\n".utf8))
