import EnvSpec
import Foundation

/// The export format: one revision's desired state with its provenance, verifiable by hash.
/// Documented in docs/bundle.md. Secrets appear only as references, as they do in the spec.
public struct ExportBundle: Sendable {
    public static let format = "devstack-bundle"
    public static let formatVersion = 1

    public var revision: RevisionSummary
    public var spec: EnvironmentSpec
    public var serviceHashes: [String: String]
    public var exportedAt: String
    public var exportedBy: String
    public var exportedFrom: String
    public var devstackVersion: String

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
        ])
    }

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
        guard version == formatVersion else {
            throw ImportError.invalid(file: file, path: "formatVersion", message: "format version \(version) is not supported by devstack \(DevstackVersion.current) (it reads version \(formatVersion))")
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
        let summary = RevisionSummary(environment: spec.name, number: try int(rev["number"], "revision.number"), parent: nil, specHash: specHash,
                                      author: try str(rev["author"], "revision.author"), host: try str(rev["host"], "revision.host"),
                                      createdAt: try str(rev["createdAt"], "revision.createdAt"), message: (try? str(rev["message"], "")) ?? "",
                                      source: RevisionSource(rawValue: (try? str(rev["source"], "")) ?? "") ?? .apply, changes: "")
        var bundle = ExportBundle(revision: StoredRevision(summary: summary, spec: spec, serviceHashes: hashes),
                                  exportedBy: (try? str(root["exportedBy"], "")) ?? "", exportedFrom: (try? str(root["exportedFrom"], "")) ?? "",
                                  exportedAt: (try? str(root["exportedAt"], "")) ?? "")
        bundle.devstackVersion = (try? str(root["devstackVersion"], "")) ?? "unknown"
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
}
