import Foundation

/// Where a seed run stands in the ledger.
public enum SeedRunStatus: String, Sendable, Codable {
    /// Opened before the seed starts: an interrupted run stays "running" until doctor closes it.
    case running, succeeded, failed
}

/// One run of one seed, as the ledger keeps it.
public struct SeedRun: Sendable, Equatable, Codable {
    public var id: Int64
    public var seed: String
    public var checksum: String
    public var revision: Int?
    public var startedAt: String
    public var finishedAt: String?
    public var status: SeedRunStatus
    public var durationMs: Int?
    public var outputTail: String

    public init(id: Int64, seed: String, checksum: String, revision: Int?, startedAt: String, finishedAt: String?, status: SeedRunStatus, durationMs: Int?, outputTail: String) {
        self.id = id
        self.seed = seed
        self.checksum = checksum
        self.revision = revision
        self.startedAt = startedAt
        self.finishedAt = finishedAt
        self.status = status
        self.durationMs = durationMs
        self.outputTail = outputTail
    }
}

/// A seed's last run as the exporting machine's ledger has it.
public struct SeedState: Sendable, Equatable {
    public var checksum: String
    public var status: String
    public var revision: Int?
    public init(checksum: String, status: String, revision: Int?) {
        self.checksum = checksum
        self.status = status
        self.revision = revision
    }
}
