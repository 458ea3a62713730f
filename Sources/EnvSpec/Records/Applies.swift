import Foundation

/// How an apply (or a controller pass) ended.
public enum ApplyOutcome: String, Sendable, Codable {
    case running, converged, failed
}

public struct ApplyRecord: Sendable, Equatable, Codable {
    public var id: Int64
    public var environment: String
    public var revision: Int
    public var startedAt: String
    public var finishedAt: String?
    public var outcome: ApplyOutcome
    public var images: [String: String]

    public init(id: Int64, environment: String, revision: Int, startedAt: String, finishedAt: String?, outcome: ApplyOutcome, images: [String: String]) {
        self.id = id
        self.environment = environment
        self.revision = revision
        self.startedAt = startedAt
        self.finishedAt = finishedAt
        self.outcome = outcome
        self.images = images
    }
}
