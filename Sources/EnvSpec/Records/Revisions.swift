import Foundation

public enum RevisionSource: String, Sendable, Codable { case apply, rollback, `import` }

/// Who made a revision, and why; filled in by the command that records it.
public struct RevisionMeta: Sendable {
    public var author: String
    public var host: String
    public var message: String
    public var source: RevisionSource
    public var provenance: String?
    public var projectDirectory: String?

    public init(author: String, host: String, message: String = "", source: RevisionSource, provenance: String? = nil, projectDirectory: String? = nil) {
        self.author = author
        self.host = host
        self.message = message
        self.source = source
        self.provenance = provenance
        self.projectDirectory = projectDirectory
    }
}

/// One line of `history`.
public struct RevisionSummary: Sendable, Equatable, Codable {
    public var environment: String
    public var number: Int
    public var parent: Int?
    public var specHash: String
    public var author: String
    public var host: String
    public var createdAt: String
    public var message: String
    public var source: RevisionSource
    /// `+added ~changed -removed` service names against the parent.
    public var changes: String
    public var provenance: String?
    public var projectDirectory: String?

    public init(environment: String, number: Int, parent: Int?, specHash: String, author: String, host: String, createdAt: String,
                message: String, source: RevisionSource, changes: String, provenance: String? = nil, projectDirectory: String? = nil) {
        self.environment = environment
        self.number = number
        self.parent = parent
        self.specHash = specHash
        self.author = author
        self.host = host
        self.createdAt = createdAt
        self.message = message
        self.source = source
        self.changes = changes
        self.provenance = provenance
        self.projectDirectory = projectDirectory
    }
}

/// A revision with its full desired state.
public struct StoredRevision: Sendable {
    public var summary: RevisionSummary
    public var spec: EnvironmentSpec
    public var serviceHashes: [String: String]

    public init(summary: RevisionSummary, spec: EnvironmentSpec, serviceHashes: [String: String]) {
        self.summary = summary
        self.spec = spec
        self.serviceHashes = serviceHashes
    }

    /// An unrecorded revision, for showing what a file would do (`diff -f`).
    public static func draft(_ spec: EnvironmentSpec, number: Int, projectDirectory: String) -> StoredRevision {
        let hashes = spec.hashes
        return StoredRevision(summary: RevisionSummary(environment: spec.name, number: number, parent: nil, specHash: hashes.environment, author: "", host: "",
                                                       createdAt: "", message: "", source: .apply, changes: "", provenance: nil, projectDirectory: projectDirectory),
                              spec: spec, serviceHashes: hashes.services)
    }
}

public enum RecordOutcome: Sendable {
    case recorded(RevisionSummary)
    /// The desired state equals the latest revision's; nothing was written.
    case unchanged(RevisionSummary)

    public var summary: RevisionSummary {
        switch self { case let .recorded(s), let .unchanged(s): return s }
    }
}

/// One operation of a reconcile, or a note from the controller.
public struct EventRecord: Sendable, Codable, Equatable {
    public var id: Int64?
    public var environment: String
    public var revision: Int?
    public var time: String
    public var service: String?
    public var action: String
    public var cause: String
    public var outcome: String
    public var durationMs: Int?
    public var detail: String?

    public init(id: Int64? = nil, environment: String, revision: Int?, time: String = Timestamp.now(), service: String?, action: String, cause: String, outcome: String, durationMs: Int? = nil, detail: String? = nil) {
        self.id = id
        self.environment = environment
        self.revision = revision
        self.time = time
        self.service = service
        self.action = action
        self.cause = cause
        self.outcome = outcome
        self.durationMs = durationMs
        self.detail = detail
    }
}

public enum Timestamp {
    public static func now() -> String { format(Date()) }
    public static func format(_ date: Date) -> String {
        let f = ISO8601DateFormatter()
        f.formatOptions = [.withInternetDateTime, .withFractionalSeconds]
        f.timeZone = TimeZone(identifier: "UTC")
        return f.string(from: date)
    }
    /// `20261125T204609`: for file names (backups, set-aside databases).
    public static func compact() -> String {
        String(now().replacingOccurrences(of: ":", with: "").replacingOccurrences(of: "-", with: "").prefix(15))
    }

    public static func parse(_ text: String) -> Date? {
        let f = ISO8601DateFormatter()
        f.formatOptions = [.withInternetDateTime, .withFractionalSeconds]
        return f.date(from: text) ?? ISO8601DateFormatter().date(from: text)
    }
}

/// The actions the event log records besides plan steps (whose action is the step's verb).
public enum EventAction: String, Sendable, Codable {
    /// The controller cannot converge a revision.
    case reconcile
    /// A crash-looping service is held back.
    case backOff = "back-off"
    /// A task ran (`devstack run`): its exit code and duration.
    case task
    /// `devstack watch` synced, rebuilt or restarted a service.
    case watch
}

/// How a recorded event ended.
public enum EventOutcome: String, Sendable, Codable {
    case ok, failed, skipped, delayed
}
