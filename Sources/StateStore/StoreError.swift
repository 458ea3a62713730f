/// Store failures, phrased for the person at the terminal.
public enum StoreError: Error, Equatable, CustomStringConvertible {
    case newerSchema(location: String, databaseVersion: Int, binaryVersion: Int)
    case editedMigration(name: String)
    case cannotOpen(location: String, reason: String)
    case noEnvironment(String, known: [String])
    case ambiguousEnvironment([String])
    case empty
    case noRevision(environment: String, number: Int, latest: Int?)
    case corrupt(String)
    case sqlite(String)
    case diskFull(location: String)
    case snapshotExists(environment: String, name: String)
    case noSnapshot(environment: String, name: String, known: [String])

    public var description: String {
        switch self {
        case let .newerSchema(location, db, bin):
            return "the state database \(location) was written by a newer devstack (schema \(db), this binary knows up to \(bin)): upgrade devstack, or point --state at another database"
        case let .editedMigration(name):
            return "migration \(name) was changed after it was applied (checksum differs): migrations are forward-only, so restore it and add a new migration instead"
        case let .cannotOpen(location, reason):
            return "cannot open the state database \(location): \(reason)"
        case let .noEnvironment(name, known):
            let hint = known.isEmpty ? "no environment has been applied yet" : "known: \(known.joined(separator: ", "))"
            return "no environment named \"\(name)\" in the state database (\(hint))"
        case let .ambiguousEnvironment(names):
            return "the state database holds several environments (\(names.joined(separator: ", "))): pass --env NAME"
        case .empty:
            return "no environment has been recorded yet: run devstack apply ENV_FILE first"
        case let .noRevision(env, number, latest):
            let hint = latest.map { "revisions run from 1 to \($0)" } ?? "it has no revisions"
            return "environment \"\(env)\" has no revision \(number) (\(hint))"
        case let .corrupt(reason):
            return "the state database is damaged: \(reason). Run devstack doctor to check it and devstack doctor --repair to salvage it or put back the newest backup (the damaged file is kept)"
        case let .diskFull(location):
            return "the disk holding the state database \(location) is full: nothing was recorded, and the database is as it was; free some space and retry"
        case let .sqlite(reason):
            return "state database error: \(reason)"
        case let .snapshotExists(env, name):
            return "environment \"\(env)\" already has a snapshot named \"\(name)\": pick another name, or remove it with devstack snapshot rm \(name)"
        case let .noSnapshot(env, name, known):
            let hint = known.isEmpty ? "it has no snapshots; take one with devstack snapshot save NAME" : "known: \(known.joined(separator: ", "))"
            return "environment \"\(env)\" has no snapshot named \"\(name)\" (\(hint))"
        }
    }
}
