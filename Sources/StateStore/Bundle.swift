import EnvSpec
import Foundation

/// The export format: one revision's desired state with its provenance, verifiable by hash.
/// Documented in docs/bundle.md. Secrets appear only as references, as they do in the spec.
public struct ExportBundle: Sendable {
    public static let format = "devstack-bundle"
    public static let formatVersion = 3
    /// Version 1 bundles (no lock, ledger or snapshots) and version 2 (no provenance hash) are
    /// still read; for them, `provenanceVerified` is false and import says so.
    public static let readableVersions = 1...3

    public typealias SeedState = EnvSpec.SeedState

    public var revision: RevisionSummary
    public var spec: EnvironmentSpec
    public var serviceHashes: [String: String]
    public var exportedAt: String
    public var exportedBy: String
    public var exportedFrom: String
    public var devstackVersion: String
    /// The registry digest each service's image ran as.
    public var lock: [String: ImageLock] = [:]
    public var seeds: [String: SeedState] = [:]
    public var snapshots: [SnapshotRecord] = []
    /// With --with-data: the compressed archives, by "SNAPSHOT/VOLUME".
    public var archives: [String: Data] = [:]
    /// True when the revision's message, author, host and the exporter were checked against the
    /// bundle's provenance hash (format 3 on).
    public var provenanceVerified = true

    public init(revision: StoredRevision, exportedBy: String, exportedFrom: String, exportedAt: String = Timestamp.now()) {
        self.revision = revision.summary
        self.spec = revision.spec
        self.serviceHashes = revision.serviceHashes
        self.exportedAt = exportedAt
        self.exportedBy = exportedBy
        self.exportedFrom = exportedFrom
        self.devstackVersion = DevstackVersion.current
    }

    public var json: JSONValue {
        func s(_ v: String) -> JSONValue { .string(v) }
        func obj(_ m: [(String, JSONValue)]) -> JSONValue { .object(m.map { (key: $0.0, value: JSONNode($0.1)) }) }
        return obj([
            ("format", s(Self.format)),
            ("formatVersion", .number(Double(Self.formatVersion))),
            ("devstackVersion", s(devstackVersion)),
            ("exportedAt", s(exportedAt)),
            ("exportedBy", s(exportedBy)),
            ("exportedFrom", s(exportedFrom)),
            ("revision", obj([
                ("environment", s(revision.environment)),
                ("number", .number(Double(revision.number))),
                ("parent", revision.parent.map { .number(Double($0)) } ?? .null),
                ("author", s(revision.author)),
                ("host", s(revision.host)),
                ("createdAt", s(revision.createdAt)),
                ("message", s(revision.message)),
                ("source", s(revision.source.rawValue)),
                ("specHash", s(revision.specHash)),
            ])),
            ("serviceHashes", obj(serviceHashes.map { ($0.key, s($0.value)) })),
            ("spec", spec.canonical),
            ("lock", lockJSON),
            ("seeds", seedsJSON),
            ("snapshots", snapshotsJSON),
            ("stateHash", s(stateHash)),
            ("provenanceHash", s(provenanceHash)),
            ("archives", obj(archives.map { ($0.key, s($0.value.base64EncodedString())) })),
        ])
    }

    var lockJSON: JSONValue { .obj(lock.map { ($0.key, .obj([("image", .string($0.value.reference)), ("digest", .string($0.value.digest))])) }) }
    var seedsJSON: JSONValue {
        .obj(seeds.map { ($0.key, .obj([("checksum", .string($0.value.checksum)), ("status", .string($0.value.status)),
                                        ("revision", $0.value.revision.map { .number(Double($0)) } ?? .null)])) })
    }
    var snapshotsJSON: JSONValue {
        .array(snapshots.sorted { $0.name < $1.name }.map { snap in
            JSONNode(.obj([("name", .string(snap.name)), ("revision", snap.revision.map { .number(Double($0)) } ?? .null), ("createdAt", .string(snap.createdAt)),
                           ("volumes", .array(snap.volumes.map { v in
                               JSONNode(.obj([("volume", .string(v.volume)), ("sha256", .string(v.sha256)), ("bytes", .number(Double(v.bytes)))]))
                           }))]))
        })
    }

    /// SHA-256 over who made the revision and the bundle, and what they said of it: the message,
    /// author, host, source and times cannot be edited unseen either.
    public var provenanceHash: String {
        CanonicalJSON.hash(.obj([
            ("environment", .string(revision.environment)), ("number", .number(Double(revision.number))),
            ("author", .string(revision.author)), ("host", .string(revision.host)), ("createdAt", .string(revision.createdAt)),
            ("message", .string(revision.message)), ("source", .string(revision.source.rawValue)), ("specHash", .string(revision.specHash)),
            ("exportedAt", .string(exportedAt)), ("exportedBy", .string(exportedBy)), ("exportedFrom", .string(exportedFrom)),
            ("devstackVersion", .string(devstackVersion)),
        ]))
    }

    /// Adds the host capabilities the importer accepted to the provenance recorded with the revision.
    public static func provenance(_ provenance: String, acceptingHostAccess accepted: [String]) -> String {
        guard let node = try? JSONParser.parse(provenance), case let .object(members) = node.value else { return provenance }
        return CanonicalJSON.encode(.object(members + [(key: "hostAccessAccepted", value: JSONNode(.array(accepted.map { JSONNode(.string($0)) })))]))
    }

    /// SHA-256 over the lock, the ledger and the snapshot list, so none can be edited unseen.
    public var stateHash: String { CanonicalJSON.hash(.obj([("lock", lockJSON), ("seeds", seedsJSON), ("snapshots", snapshotsJSON)])) }

    public var text: String { CanonicalJSON.pretty(json) + "\n" }

    public enum ImportError: Error, CustomStringConvertible {
        case invalid(file: String, path: String, message: String)
        case hashMismatch(file: String, path: String, expected: String, actual: String)

        public var description: String {
            switch self {
            case let .invalid(file, path, message): return path.isEmpty ? "\(file): \(message)" : "\(file): \(path): \(message)"
            case let .hashMismatch(file, path, expected, actual):
                return "\(file): \(path): hash mismatch (the bundle says \(expected.prefix(12)), its content hashes to \(actual.prefix(12))): the bundle was altered or damaged"
            }
        }
    }

    /// Parses and verifies a bundle: format, version and every hash.
    public static func read(_ text: String, file: String) throws -> (bundle: ExportBundle, provenance: String) {
        let root: JSONNode
        do { root = try JSONParser.parse(text) } catch {
            throw ImportError.invalid(file: "\(file):\(error.line):\(error.column)", path: "", message: "invalid JSON: \(error.message)")
        }
        func str(_ node: JSONNode?, _ path: String) throws -> String {
            guard let node, case let .string(s) = node.value else { throw ImportError.invalid(file: file, path: path, message: "expected a string") }
            return s
        }
        func int(_ node: JSONNode?, _ path: String) throws -> Int {
            guard let node, case let .number(n) = node.value, n == n.rounded() else { throw ImportError.invalid(file: file, path: path, message: "expected a whole number") }
            return Int(n)
        }
        guard try str(root["format"], "format") == format else {
            throw ImportError.invalid(file: file, path: "format", message: "expected \"\(format)\": this is not a devstack export")
        }
        let version = try int(root["formatVersion"], "formatVersion")
        guard readableVersions.contains(version) else {
            throw ImportError.invalid(file: file, path: "formatVersion", message: "format version \(version) is not supported by devstack \(DevstackVersion.current) (it reads versions \(readableVersions.lowerBound) to \(readableVersions.upperBound))")
        }
        guard let rev = root["revision"], let specNode = root["spec"] else {
            throw ImportError.invalid(file: file, path: root["revision"] == nil ? "revision" : "spec", message: "missing")
        }
        let spec: EnvironmentSpec
        do { spec = try EnvironmentSpec.decodeCanonical(specNode, source: file) } catch {
            throw ImportError.invalid(file: file, path: "spec", message: "\(error)")
        }
        let specHash = try str(rev["specHash"], "revision.specHash")
        guard spec.specHash == specHash else {
            throw ImportError.hashMismatch(file: file, path: "revision.specHash", expected: specHash, actual: spec.specHash)
        }
        var hashes: [String: String] = [:]
        if case let .object(members)? = root["serviceHashes"]?.value {
            for (name, node) in members { hashes[name] = try str(node, "serviceHashes.\(name)") }
        }
        for (name, service) in spec.services {
            guard let claimed = hashes[name] else { throw ImportError.invalid(file: file, path: "serviceHashes.\(name)", message: "missing") }
            guard claimed == service.specHash else {
                throw ImportError.hashMismatch(file: file, path: "serviceHashes.\(name)", expected: claimed, actual: service.specHash)
            }
        }
        let number = try int(rev["number"], "revision.number")
        guard number >= 1, number <= Int(Int32.max) else { throw ImportError.invalid(file: file, path: "revision.number", message: "expected a revision number from 1 to \(Int32.max)") }
        // Version 3 covers these with a hash, so each must be there, as a string.
        let strict = version >= 3
        func optional(_ node: JSONNode?, _ path: String) throws -> String { strict ? try str(node, path) : ((try? str(node, path)) ?? "") }
        let summary = RevisionSummary(environment: spec.name, number: number, parent: nil, specHash: specHash,
                                      author: try str(rev["author"], "revision.author"), host: try str(rev["host"], "revision.host"),
                                      createdAt: try str(rev["createdAt"], "revision.createdAt"), message: try optional(rev["message"], "revision.message"),
                                      source: RevisionSource(rawValue: try optional(rev["source"], "revision.source")) ?? .apply, changes: "")
        var bundle = ExportBundle(revision: StoredRevision(summary: summary, spec: spec, serviceHashes: hashes),
                                  exportedBy: try optional(root["exportedBy"], "exportedBy"), exportedFrom: try optional(root["exportedFrom"], "exportedFrom"),
                                  exportedAt: try optional(root["exportedAt"], "exportedAt"))
        bundle.devstackVersion = strict ? try str(root["devstackVersion"], "devstackVersion") : ((try? str(root["devstackVersion"], "")) ?? "unknown")
        if strict {
            let claimed = try str(root["provenanceHash"], "provenanceHash")
            guard claimed == bundle.provenanceHash else {
                throw ImportError.hashMismatch(file: file, path: "provenanceHash", expected: claimed, actual: bundle.provenanceHash)
            }
        } else {
            bundle.provenanceVerified = false
        }
        if version >= 2 { try readState(root, into: &bundle, file: file) }
        let provenance = CanonicalJSON.encode(.object([
            (key: "bundle", value: JSONNode(.string(file))),
            (key: "environment", value: JSONNode(.string(spec.name))),
            (key: "revision", value: JSONNode(.number(Double(summary.number)))),
            (key: "specHash", value: JSONNode(.string(specHash))),
            (key: "author", value: JSONNode(.string(summary.author))),
            (key: "host", value: JSONNode(.string(summary.host))),
            (key: "exportedAt", value: JSONNode(.string(bundle.exportedAt))),
            (key: "exportedBy", value: JSONNode(.string(bundle.exportedBy))),
            (key: "devstackVersion", value: JSONNode(.string(bundle.devstackVersion))),
        ]))
        return (bundle, provenance)
    }

    /// The lock, ledger, snapshots and archives of a version 2 bundle, each checked.
    static func readState(_ root: JSONNode, into bundle: inout ExportBundle, file: String) throws {
        func fail(_ path: String, _ message: String) -> ImportError { .invalid(file: file, path: path, message: message) }
        func string(_ node: JSONNode?, _ path: String) throws -> String {
            guard let node, case let .string(s) = node.value else { throw fail(path, "expected a string") }
            return s
        }
        func number(_ node: JSONNode?) -> Int? { if case let .number(n)? = node?.value { return Int(n) } else { return nil } }
        func members(_ key: String) throws -> [(key: String, value: JSONNode)] {
            guard let node = root[key] else { return [] }
            guard case let .object(m) = node.value else { throw fail(key, "expected an object") }
            return m
        }
        for (service, node) in try members("lock") {
            let digest = try string(node["digest"], "lock.\(service).digest")
            guard digest.contains("@sha256:") else { throw fail("lock.\(service).digest", "expected \"repository@sha256:…\", found \"\(digest)\"") }
            bundle.lock[service] = ImageLock(reference: try string(node["image"], "lock.\(service).image"), digest: digest)
        }
        for (seed, node) in try members("seeds") {
            bundle.seeds[seed] = SeedState(checksum: try string(node["checksum"], "seeds.\(seed).checksum"), status: try string(node["status"], "seeds.\(seed).status"),
                                           revision: number(node["revision"]))
        }
        if case let .array(items)? = root["snapshots"]?.value {
            for (i, item) in items.enumerated() {
                let name = try string(item["name"], "snapshots[\(i)].name")
                guard Names.isValid(name) else { throw fail("snapshots[\(i)].name", "invalid snapshot name \"\(name)\": \(Names.ruleText)") }
                var volumes: [SnapshotRecord.Volume] = []
                if case let .array(vs)? = item["volumes"]?.value {
                    for (j, v) in vs.enumerated() {
                        let volume = try string(v["volume"], "snapshots[\(i)].volumes[\(j)].volume")
                        guard Names.isValid(volume) else { throw fail("snapshots[\(i)].volumes[\(j)].volume", "invalid volume name \"\(volume)\"") }
                        volumes.append(SnapshotRecord.Volume(volume: volume, archive: "\(bundle.spec.name)/\(name)/\(volume).tar.gz",
                                                             sha256: try string(v["sha256"], "snapshots[\(i)].volumes[\(j)].sha256"), bytes: number(v["bytes"]) ?? 0))
                    }
                }
                bundle.snapshots.append(SnapshotRecord(name: name, revision: number(item["revision"]), createdAt: (try? string(item["createdAt"], "")) ?? "", volumes: volumes))
            }
        }
        let claimed = try string(root["stateHash"], "stateHash")
        guard claimed == bundle.stateHash else { throw ImportError.hashMismatch(file: file, path: "stateHash", expected: claimed, actual: bundle.stateHash) }
        for (key, node) in try members("archives") {
            let path = "archives.\(key)"
            guard let data = Data(base64Encoded: try string(node, path)) else { throw fail(path, "expected base64 data") }
            let parts = key.split(separator: "/").map(String.init)
            guard parts.count == 2, let volume = bundle.snapshots.first(where: { $0.name == parts[0] })?.volumes.first(where: { $0.volume == parts[1] }) else {
                throw fail(path, "no snapshot volume \"\(key)\" in \"snapshots\"")
            }
            let actual = CanonicalJSON.sha256(data)
            guard actual == volume.sha256 else { throw ImportError.hashMismatch(file: file, path: path, expected: volume.sha256, actual: actual) }
            bundle.archives[key] = data
        }
    }
}
