import Foundation

/// How an environment travels through an OCI registry (docs/bundle.md#registry): an image
/// manifest with its own `artifactType`, the empty config, one layer for the bundle (signed when
/// it was) and one layer per snapshot archive. An archive's layer digest is its SHA-256, which
/// the bundle already lists, so an unchanged snapshot has the same blob and is never uploaded
/// twice, and the bundle's signature covers the data too.
public enum OCIArtifact {
    public static let manifestMediaType = "application/vnd.oci.image.manifest.v1+json"
    public static let artifactType = "application/vnd.devstack.environment.v1+json"
    public static let bundleMediaType = "application/vnd.devstack.bundle.v1+json"
    public static let snapshotMediaType = "application/vnd.devstack.snapshot.v1.tar+gzip"
    public static let emptyMediaType = "application/vnd.oci.empty.v1+json"
    /// The empty config: the two bytes `{}`.
    public static let emptyConfig = Data("{}".utf8)

    public enum Annotation {
        public static let title = "org.opencontainers.image.title"
        public static let created = "org.opencontainers.image.created"
        public static let environment = "dev.devstack.environment"
        public static let revision = "dev.devstack.revision"
        public static let snapshot = "dev.devstack.snapshot"
        public static let volume = "dev.devstack.volume"
    }

    /// The largest manifest read: far more than a manifest with a thousand layers needs.
    public static let manifestLimit = 4 << 20

    public struct Descriptor: Sendable, Equatable {
        public var mediaType: String
        /// `sha256:` and 64 lower-case hexadecimal digits.
        public var digest: String
        public var size: Int
        public var annotations: [String: String] = [:]

        public init(mediaType: String, digest: String, size: Int, annotations: [String: String] = [:]) {
            self.mediaType = mediaType
            self.digest = digest
            self.size = size
            self.annotations = annotations
        }

        public static func of(_ data: Data, mediaType: String, annotations: [String: String] = [:]) -> Descriptor {
            Descriptor(mediaType: mediaType, digest: "sha256:" + CanonicalJSON.sha256(data), size: data.count, annotations: annotations)
        }

        /// The digest's hexadecimal part.
        public var hex: String { String(digest.dropFirst("sha256:".count)) }

        var json: JSONValue {
            var members: [(String, JSONValue)] = [("mediaType", .string(mediaType)), ("digest", .string(digest)), ("size", .number(Double(size)))]
            if !annotations.isEmpty { members.append(("annotations", .stringMap(annotations))) }
            return .obj(members)
        }
    }

    public struct Manifest: Sendable, Equatable {
        public var artifactType: String
        public var config: Descriptor
        public var layers: [Descriptor]
        public var annotations: [String: String]

        public init(artifactType: String = OCIArtifact.artifactType, config: Descriptor = .of(OCIArtifact.emptyConfig, mediaType: OCIArtifact.emptyMediaType),
                    layers: [Descriptor], annotations: [String: String] = [:]) {
            self.artifactType = artifactType
            self.config = config
            self.layers = layers
            self.annotations = annotations
        }

        /// The bytes pushed: canonical JSON, so the same content always has the same digest.
        public var data: Data {
            var members: [(String, JSONValue)] = [
                ("schemaVersion", .number(2)), ("mediaType", .string(OCIArtifact.manifestMediaType)), ("artifactType", .string(artifactType)),
                ("config", config.json), ("layers", .array(layers.map { JSONNode($0.json) })),
            ]
            if !annotations.isEmpty { members.append(("annotations", .stringMap(annotations))) }
            return Data(CanonicalJSON.encode(.obj(members)).utf8)
        }

        /// The layer holding the environment bundle.
        public var bundle: Descriptor? { layers.first { $0.mediaType == OCIArtifact.bundleMediaType } }

        /// The snapshot archives, with the snapshot and volume each belongs to.
        public var archives: [(snapshot: String, volume: String, layer: Descriptor)] {
            layers.compactMap { layer in
                guard layer.mediaType == OCIArtifact.snapshotMediaType, let snapshot = layer.annotations[Annotation.snapshot],
                      let volume = layer.annotations[Annotation.volume] else { return nil }
                return (snapshot, volume, layer)
            }
        }
    }

    public struct Invalid: Error, CustomStringConvertible, Sendable, Equatable {
        public var source: String
        public var reason: String
        public var description: String { "\(source): \(reason)" }
    }

    /// Reads a manifest someone else pushed, strictly: every descriptor needs a media type, a
    /// sha256 digest and a size, or the manifest is refused by name.
    public static func parse(_ data: Data, source: String) throws(Invalid) -> Manifest {
        func fail(_ reason: String) -> Invalid { Invalid(source: source, reason: reason) }
        guard data.count <= manifestLimit else { throw fail("the manifest is over \(manifestLimit >> 20) MiB") }
        guard let text = String(data: data, encoding: .utf8) else { throw fail("the manifest is not UTF-8 text") }
        let root: JSONNode
        do { root = try JSONParser.parse(text) } catch { throw fail("the manifest is not JSON (line \(error.line): \(error.message))") }
        guard case .object = root.value else { throw fail("the manifest is not a JSON object") }
        guard case let .number(version)? = root["schemaVersion"]?.value, version == 2 else { throw fail("expected schemaVersion 2") }
        if case let .string(type)? = root["mediaType"]?.value, type != manifestMediaType {
            throw fail("expected an OCI image manifest (\(manifestMediaType)), found \(type)")
        }
        guard case let .string(artifact)? = root["artifactType"]?.value, artifact == artifactType else {
            throw fail("this is not a devstack environment (its artifactType is not \(artifactType))")
        }
        func strings(_ node: JSONNode?, _ path: String) throws(Invalid) -> [String: String] {
            guard let node else { return [:] }
            guard case let .object(members) = node.value else { throw fail("\(path): expected an object") }
            var out: [String: String] = [:]
            for member in members {
                guard case let .string(value) = member.value.value else { throw fail("\(path).\(member.key): expected a string") }
                out[member.key] = value
            }
            return out
        }
        func descriptor(_ node: JSONNode?, _ path: String) throws(Invalid) -> Descriptor {
            guard let node, case .object = node.value else { throw fail("\(path): expected a descriptor object") }
            guard case let .string(mediaType)? = node["mediaType"]?.value, !mediaType.isEmpty else { throw fail("\(path).mediaType: expected a string") }
            guard case let .string(digest)? = node["digest"]?.value, isDigest(digest) else {
                throw fail("\(path).digest: expected sha256: and 64 lower-case hexadecimal digits")
            }
            guard case let .number(size)? = node["size"]?.value, size >= 0, size == size.rounded(), size < 1e15 else {
                throw fail("\(path).size: expected a whole number of bytes")
            }
            return Descriptor(mediaType: mediaType, digest: digest, size: Int(size), annotations: try strings(node["annotations"], "\(path).annotations"))
        }
        let config = try descriptor(root["config"], "config")
        guard case let .array(layerNodes)? = root["layers"]?.value else { throw fail("layers: expected an array") }
        var layers: [Descriptor] = []
        for (index, node) in layerNodes.enumerated() { layers.append(try descriptor(node, "layers[\(index)]")) }
        let manifest = Manifest(config: config, layers: layers, annotations: try strings(root["annotations"], "annotations"))
        guard manifest.layers.filter({ $0.mediaType == bundleMediaType }).count == 1 else { throw fail("expected exactly one layer of type \(bundleMediaType)") }
        let keys = manifest.archives.map { "\($0.snapshot)/\($0.volume)" }
        guard Set(keys).count == keys.count else { throw fail("two layers hold the same snapshot volume") }
        return manifest
    }

    public static func isDigest(_ s: String) -> Bool {
        s.hasPrefix("sha256:") && s.count == 71 && s.dropFirst(7).allSatisfy { $0.isHexDigit && !$0.isUppercase }
    }

    /// The layer a snapshot seed loads into `volume`: the one for that volume, or the only one.
    public static func layer(for volume: String, in manifest: Manifest, source: String) throws(Invalid) -> Descriptor {
        let archives = manifest.archives
        let matching = archives.filter { $0.volume == volume }
        if matching.count == 1 { return matching[0].layer }
        if matching.isEmpty, archives.count == 1 { return archives[0].layer }
        if archives.isEmpty { throw Invalid(source: source, reason: "the artifact holds no snapshot archive (was it pushed with --with-data?)") }
        let names = archives.map { "\($0.snapshot)/\($0.volume)" }.sorted().joined(separator: ", ")
        throw Invalid(source: source, reason: matching.isEmpty ? "no snapshot archive for volume \"\(volume)\"; it holds \(names)" : "more than one snapshot archive for volume \"\(volume)\": \(names)")
    }
}
