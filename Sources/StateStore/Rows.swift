import EnvSpec
import Foundation
import GRDB

// GRDB record types for the rows the store reads: columns by name, in one place per table,
// turned into the record value types of EnvSpec. A value a column's CHECK should have kept out
// is reported as a damaged database, never trapped on.

/// A row of `revisions`, as `history` and `revision` read it.
struct RevisionRow: FetchableRecord {
    /// The columns a summary needs, plus the ids that lead to the revision's specs.
    static let columns = "id, number, parent_number, spec_hash, author, host, created_at, message, source, changes, provenance, project_dir, settings_id"

    var id: Int64
    var number: Int
    var parentNumber: Int?
    var specHash: String
    var author: String
    var host: String
    var createdAt: String
    var message: String
    var source: String
    var changes: String
    var provenance: String?
    var projectDirectory: String?
    var settingsID: Int64

    init(row: Row) {
        id = row["id"]
        number = row["number"]
        parentNumber = row["parent_number"]
        specHash = row["spec_hash"]
        author = row["author"]
        host = row["host"]
        createdAt = row["created_at"]
        message = row["message"]
        source = row["source"]
        changes = row["changes"]
        provenance = row["provenance"]
        projectDirectory = row["project_dir"]
        settingsID = row["settings_id"]
    }

    func summary(environment: String) -> RevisionSummary {
        RevisionSummary(environment: environment, number: number, parent: parentNumber, specHash: specHash, author: author, host: host,
                        createdAt: createdAt, message: message, source: RevisionSource(rawValue: source) ?? .apply, changes: changes,
                        provenance: provenance, projectDirectory: projectDirectory)
    }
}

/// A row of `applies`.
struct ApplyRow: FetchableRecord {
    var id: Int64
    var revision: Int
    var startedAt: String
    var finishedAt: String?
    var outcome: String
    var images: String

    init(row: Row) {
        id = row["id"]
        revision = row["revision_number"]
        startedAt = row["started_at"]
        finishedAt = row["finished_at"]
        outcome = row["outcome"]
        images = row["images"]
    }

    func record(environment: String) throws -> ApplyRecord {
        guard let outcome = ApplyOutcome(rawValue: outcome) else { throw StoreError.corrupt("apply \(id) has the unknown outcome \"\(outcome)\"") }
        var decoded: [String: String] = [:]
        if case let .object(members)? = (try? JSONParser.parse(images))?.value {
            for m in members { if case let .string(s) = m.value.value { decoded[m.key] = s } }
        }
        return ApplyRecord(id: id, environment: environment, revision: revision, startedAt: startedAt, finishedAt: finishedAt,
                           outcome: outcome, images: decoded)
    }
}

/// A row of `seed_runs`.
struct SeedRunRow: FetchableRecord {
    var id: Int64
    var seed: String
    var checksum: String
    var revision: Int?
    var startedAt: String
    var finishedAt: String?
    var status: String
    var durationMs: Int?
    var outputTail: String

    init(row: Row) {
        id = row["id"]
        seed = row["seed"]
        checksum = row["checksum"]
        revision = row["revision_number"]
        startedAt = row["started_at"]
        finishedAt = row["finished_at"]
        status = row["status"]
        durationMs = row["duration_ms"]
        outputTail = row["output_tail"]
    }

    func record() throws -> SeedRun {
        guard let status = SeedRunStatus(rawValue: status) else { throw StoreError.corrupt("seed run \(id) has the unknown status \"\(status)\"") }
        return SeedRun(id: id, seed: seed, checksum: checksum, revision: revision, startedAt: startedAt, finishedAt: finishedAt,
                       status: status, durationMs: durationMs, outputTail: outputTail)
    }
}

/// A row of `image_locks`.
struct ImageLockRow: FetchableRecord {
    var service: String
    var lock: ImageLock

    init(row: Row) {
        service = row["service"]
        lock = ImageLock(reference: row["reference"], digest: row["digest"])
    }
}

/// A row of `snapshots`, without its volumes.
struct SnapshotRow: FetchableRecord {
    var id: Int64
    var name: String
    var revision: Int?
    var createdAt: String

    init(row: Row) {
        id = row["id"]
        name = row["name"]
        revision = row["revision_number"]
        createdAt = row["created_at"]
    }
}

/// A row of `snapshot_volumes`.
struct SnapshotVolumeRow: FetchableRecord {
    var volume: SnapshotRecord.Volume

    init(row: Row) {
        volume = SnapshotRecord.Volume(volume: row["volume"], archive: row["archive"], sha256: row["sha256"], bytes: row["bytes"])
    }
}

/// The row of `pending_restores`: the journal of a restore under way.
struct PendingRestoreRow: FetchableRecord {
    var label: String
    var sources: String
    var startedAt: String

    init(row: Row) {
        label = row["label"]
        sources = row["sources"]
        startedAt = row["started_at"]
    }

    func record() throws -> PendingRestore {
        guard let decoded = try? JSONDecoder().decode([RestoreSource].self, from: Data(sources.utf8)) else {
            throw StoreError.corrupt("the journal of an interrupted restore cannot be read; devstack doctor --repair clears it")
        }
        return PendingRestore(label: label, sources: decoded, startedAt: startedAt)
    }
}
