import Foundation

/// A recorded snapshot: one archive per volume, each with the digest it must still have.
public struct SnapshotRecord: Sendable, Equatable, Codable {
    public struct Volume: Sendable, Equatable, Codable {
        public var volume: String
        /// Relative to `StateStore.snapshotsDirectory`.
        public var archive: String
        public var sha256: String
        public var bytes: Int
        public init(volume: String, archive: String, sha256: String, bytes: Int) {
            self.volume = volume
            self.archive = archive
            self.sha256 = sha256
            self.bytes = bytes
        }
    }

    public var name: String
    public var revision: Int?
    public var createdAt: String
    public var volumes: [Volume]
    public init(name: String, revision: Int?, createdAt: String = Timestamp.now(), volumes: [Volume]) {
        self.name = name
        self.revision = revision
        self.createdAt = createdAt
        self.volumes = volumes
    }
}

/// One archive a restore writes into one volume.
public struct RestoreSource: Sendable, Equatable, Codable {
    public var volume: String
    /// Absolute path of the compressed archive.
    public var path: String
    public var sha256: String
    public init(volume: String, path: String, sha256: String) {
        self.volume = volume
        self.path = path
        self.sha256 = sha256
    }
}

public struct PendingRestore: Sendable, Equatable {
    public var label: String
    public var sources: [RestoreSource]
    public var startedAt: String

    public init(label: String, sources: [RestoreSource], startedAt: String) {
        self.label = label
        self.sources = sources
        self.startedAt = startedAt
    }
}
