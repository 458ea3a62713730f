import HostFiles
import EnvSpec
import Foundation
import GRDB

/// The embedded SQLite database of desired state and its history. All SQL lives here.
public final class StateStore: Sendable {
    let writer: any DatabaseWriter
    public let location: String

    init(writer: any DatabaseWriter, location: String) {
        self.writer = writer
        self.location = location
    }

    static func configuration() -> Configuration {
        var config = Configuration()
        config.foreignKeysEnabled = true
        config.busyMode = .timeout(10)
        config.label = "devstack"
        return config
    }

    /// Opens (creating when needed) a WAL database at `path` and brings its schema up to date.
    public static func open(path: String, migrations: [Migration] = Migration.embedded) throws(StoreError) -> StateStore {
        let directory = PathMath.directory(of: path)
        do {
            // The database holds the secret-label key and interpolated host values: private.
            try Files.createPrivateFolder(directory)
        } catch {
            throw .cannotOpen(location: path, reason: "cannot create \(directory): \(error.reason)")
        }
        // Processes opening the same database take turns: creating it, switching it to WAL and
        // migrating are not covered by SQLite's busy timeout.
        if FileManager.default.fileExists(atPath: path) { try refuseUnlessRegular(path) }
        let opening = OpeningLock(path + ".lock")
        defer { opening.release() }
        do {
            try checkHeader(path)
            try verifyReadOnly(path, migrations: migrations)
            try Files.createPrivateFile(path)
            let pool = try DatabasePool(path: path, configuration: configuration())
            let store = StateStore(writer: pool, location: path)
            try store.migrate(migrations)
            return store
        } catch let error as StoreError {
            throw error
        } catch {
            throw Self.translate(error, location: path)
        }
    }

    /// Opens an existing database for reading only: `history`, `show`, `status` and the like leave
    /// its bytes exactly as they were. A database whose schema is behind this binary is migrated
    /// first (that is a write, and it takes a backup), as any open would.
    public static func openReadOnly(path: String, migrations: [Migration] = Migration.embedded) throws(StoreError) -> StateStore {
        guard FileManager.default.fileExists(atPath: path) else { throw .empty }
        try refuseUnlessRegular(path)
        do {
            try checkHeader(path)
            var config = configuration()
            config.readonly = true
            let queue = try DatabaseQueue(path: path, configuration: config)
            let pending = try queue.read { db -> Bool in
                guard try db.tableExists("schema_migrations") else { return true }
                return try Migrator.pending(db, migrations: migrations)
            }
            if pending {
                try queue.close()
                return try open(path: path, migrations: migrations)
            }
            try queue.read { db in try Migrator.verify(db, migrations: migrations, location: path) }
            return StateStore(writer: queue, location: path)
        } catch let error as StoreError {
            throw error
        } catch {
            throw Self.translate(error, location: path)
        }
    }

    /// A private in-memory database, for tests and dry runs.
    public static func inMemory(migrations: [Migration] = Migration.embedded) throws(StoreError) -> StateStore {
        do {
            let queue = try DatabaseQueue(configuration: configuration())
            let store = StateStore(writer: queue, location: ":memory:")
            try store.migrate(migrations)
            return store
        } catch let error as StoreError {
            throw error
        } catch {
            throw Self.translate(error, location: ":memory:")
        }
    }

    /// An existing database is checked read-only first: a refused one is left exactly as it was.
    static func verifyReadOnly(_ path: String, migrations: [Migration]) throws {
        guard FileManager.default.fileExists(atPath: path) else { return }
        var config = configuration()
        config.readonly = true
        let probe = try DatabaseQueue(path: path, configuration: config)
        try probe.read { db in
            if try db.tableExists("schema_migrations") { try Migrator.verify(db, migrations: migrations, location: path) }
        }
        try probe.close()
    }

    /// A device, a FIFO or a folder is never opened as a database (and never renamed or repaired).
    static func refuseUnlessRegular(_ path: String) throws(StoreError) {
        guard Files.isRegularFile(LocalFiles.realPath(path) ?? path) else {
            throw .cannotOpen(location: path, reason: "not a regular file; --state names a database file")
        }
    }

    /// A file that exists but is not SQLite is refused before SQLite gets a chance to touch it.
    static func checkHeader(_ path: String) throws(StoreError) {
        guard let handle = FileHandle(forReadingAtPath: path) else { return }
        defer { try? handle.close() }
        let header = (try? handle.read(upToCount: 16)) ?? Data()
        if header.isEmpty { return }
        if header != Data("SQLite format 3\0".utf8) {
            throw .corrupt("\(path) is not a SQLite database (was it truncated or overwritten?)")
        }
    }

    /// A write error on a file system with almost no room left is a full disk: SQLite reports
    /// some ENOSPC cases (WAL appends) as I/O errors.
    static func isNearlyFull(_ location: String) -> Bool {
        let free = (try? FileManager.default.attributesOfFileSystem(forPath: PathMath.directory(of: location)))?[.systemFreeSize] as? NSNumber
        return free.map { $0.int64Value < 1 << 20 } ?? false
    }

    static func translate(_ error: Error, location: String) -> StoreError {
        if let db = error as? DatabaseError {
            switch db.resultCode {
            case .SQLITE_CORRUPT, .SQLITE_NOTADB: return .corrupt("\(location): \(db.message ?? "malformed")")
            case .SQLITE_CANTOPEN: return .cannotOpen(location: location, reason: db.message ?? "cannot open")
            case .SQLITE_FULL: return .diskFull(location: location)
            case .SQLITE_IOERR where isNearlyFull(location): return .diskFull(location: location)
            case .SQLITE_READONLY: return .cannotOpen(location: location, reason: "read-only")
            default: return .sqlite(db.message ?? "\(db.resultCode)")
            }
        }
        return .sqlite("\(error)")
    }

    func migrate(_ migrations: [Migration]) throws {
        // Check before writing, so a refused database is left exactly as it was.
        let pending = try writer.read { db in try Migrator.pending(db, migrations: migrations) }
        guard pending else {
            try writer.read { db in try Migrator.verify(db, migrations: migrations, location: location) }
            return
        }
        try backUpBeforeMigrating()
        try writer.write { db in try Migrator.migrate(db, migrations: migrations, location: location) }
    }

    /// A copy of a database that already holds data, taken through SQLite's backup API before a
    /// migration changes it: `STATE.backup-schemaN-TIME`. `devstack doctor` lists them.
    func backUpBeforeMigrating() throws {
        guard location != ":memory:" else { return }
        let version = try writer.read { db -> Int in
            guard try db.tableExists("schema_migrations") else { return 0 }
            return try Int.fetchOne(db, sql: "SELECT MAX(version) FROM schema_migrations") ?? 0
        }
        guard version > 0 else { return }
        let stamp = Timestamp.compact()
        let backupPath = "\(location).backup-schema\(version)-\(stamp)"
        try Files.createPrivateFile(backupPath)
        let target = try DatabaseQueue(path: backupPath)
        try writer.backup(to: target)
        try target.close()
    }

    /// Backups taken before migrations, newest first.
    public static func backups(of path: String) -> [String] {
        let directory = PathMath.directory(of: path)
        let prefix = (path as NSString).lastPathComponent + ".backup-"
        let names = (try? FileManager.default.contentsOfDirectory(atPath: directory)) ?? []
        return names.filter { $0.hasPrefix(prefix) && !$0.hasSuffix("-wal") && !$0.hasSuffix("-shm") && !$0.hasSuffix(".lock") }.sorted().reversed().map { PathMath.join(directory, $0) }
    }

    func read<T>(_ body: (Database) throws -> T) throws(StoreError) -> T {
        do { return try writer.read(body) } catch let e as StoreError { throw e } catch { throw Self.translate(error, location: location) }
    }

    func write<T>(_ body: (Database) throws -> T) throws(StoreError) -> T {
        do { return try writer.write(body) } catch let e as StoreError { throw e } catch { throw Self.translate(error, location: location) }
    }

    public var schemaVersion: Int {
        (try? read { db in try Int.fetchOne(db, sql: "SELECT MAX(version) FROM schema_migrations") ?? 0 }) ?? 0
    }

    // MARK: environments

    public func environmentNames() throws(StoreError) -> [String] {
        try read { db in try String.fetchAll(db, sql: "SELECT name FROM environments ORDER BY name") }
    }

    /// The named environment, or the only one when no name is given.
    public func resolveEnvironment(_ name: String?) throws(StoreError) -> String {
        let names = try environmentNames()
        if let name {
            guard names.contains(name) else { throw .noEnvironment(name, known: names) }
            return name
        }
        switch names.count {
        case 0: throw .empty
        case 1: return names[0]
        default: throw .ambiguousEnvironment(names)
        }
    }

    // MARK: revisions

    /// Records `spec` as the next revision, unless it equals the latest one (then nothing is written).
    public func record(_ spec: EnvironmentSpec, meta: RevisionMeta, force: Bool = false) throws(StoreError) -> RecordOutcome {
        let forms = spec.canonicalForms
        let specHash = CanonicalJSON.sha256(forms.environment)
        return try write { db in
            let envID = try Self.environmentID(db, name: spec.name, create: true)!
            let latest = try Row.fetchOne(db, sql: "SELECT number, spec_hash FROM revisions WHERE environment_id = ? ORDER BY number DESC LIMIT 1", arguments: [envID])
            if let latest, latest["spec_hash"] as String == specHash, !force {
                return .unchanged(try Self.summary(db, environment: spec.name, envID: envID, number: latest["number"])!)
            }
            let parent: Int? = latest?["number"]
            let number = (parent ?? 0) + 1
            let settingsID = try Self.storeSpec(db, body: CanonicalJSON.encode(spec.settingsCanonical))
            var serviceIDs: [String: Int64] = [:]
            for (name, body) in forms.services {
                serviceIDs[name] = try Self.storeSpec(db, body: body)
            }
            let parentServices: [String: Int64] = parent == nil ? [:] : try Self.serviceSpecIDs(db, envID: envID, number: parent!)
            let changes = Self.describeChanges(old: parentServices, new: serviceIDs)
            try db.execute(sql: """
                INSERT INTO revisions (environment_id, number, parent_number, spec_hash, settings_id, author, host, created_at, message, source, changes, provenance, project_dir)
                VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
                """, arguments: [envID, number, parent, specHash, settingsID, meta.author, meta.host, Timestamp.now(), meta.message,
                                 meta.source.rawValue, changes, meta.provenance, meta.projectDirectory])
            let revisionID = db.lastInsertedRowID
            let insert = try db.makeStatement(sql: "INSERT INTO revision_services (revision_id, service, spec_id) VALUES (?, ?, ?)")
            for (name, id) in serviceIDs.sorted(by: { $0.key < $1.key }) {
                try insert.execute(arguments: [revisionID, name, id])
            }
            return .recorded(try Self.summary(db, environment: spec.name, envID: envID, number: number)!)
        }
    }

    /// Newest first; `before` pages backwards (revisions numbered below it), by the primary key.
    public func history(environment: String, limit: Int? = nil, before: Int? = nil) throws(StoreError) -> [RevisionSummary] {
        try read { db in
            guard let envID = try Self.environmentID(db, name: environment, create: false) else { return [] }
            var sql = "SELECT \(RevisionRow.columns) FROM revisions WHERE environment_id = ?"
            var arguments: [any DatabaseValueConvertible] = [envID]
            if let before {
                sql += " AND number < ?"
                arguments.append(before)
            }
            sql += " ORDER BY number DESC"
            if let limit { sql += " LIMIT \(max(0, limit))" }
            return try RevisionRow.fetchAll(db, sql: sql, arguments: StatementArguments(arguments)).map { $0.summary(environment: environment) }
        }
    }

    public func latestNumber(environment: String) throws(StoreError) -> Int? {
        try read { db in
            guard let envID = try Self.environmentID(db, name: environment, create: false) else { return nil }
            return try Int.fetchOne(db, sql: "SELECT MAX(number) FROM revisions WHERE environment_id = ?", arguments: [envID])
        }
    }

    /// A revision with its spec; `number` nil means the latest.
    public func revision(environment: String, number: Int? = nil) throws(StoreError) -> StoredRevision {
        try read { db in
            guard let envID = try Self.environmentID(db, name: environment, create: false) else {
                throw StoreError.noEnvironment(environment, known: try String.fetchAll(db, sql: "SELECT name FROM environments ORDER BY name"))
            }
            let latest = try Int.fetchOne(db, sql: "SELECT MAX(number) FROM revisions WHERE environment_id = ?", arguments: [envID])
            let wanted = number ?? latest
            guard let wanted, let row = try RevisionRow.fetchOne(db, sql: "SELECT \(RevisionRow.columns) FROM revisions WHERE environment_id = ? AND number = ?", arguments: [envID, wanted]) else {
                throw StoreError.noRevision(environment: environment, number: number ?? 0, latest: latest)
            }
            let summary = row.summary(environment: environment)
            let settings = try String.fetchOne(db, sql: "SELECT body FROM specs WHERE id = ?", arguments: [row.settingsID]) ?? "{}"
            let services = try Row.fetchAll(db, sql: """
                SELECT rs.service, s.hash, s.body FROM revision_services rs JOIN specs s ON s.id = rs.spec_id
                WHERE rs.revision_id = ? ORDER BY rs.service
                """, arguments: [row.id])
            var hashes: [String: String] = [:]
            var bodies: [String: String] = [:]
            for service in services {
                let name: String = service["service"]
                hashes[name] = service["hash"]
                bodies[name] = service["body"]
            }
            var members: [(key: String, value: JSONNode)] = [("name", JSONNode(.string(environment))), ("services", JSONNode(.object([])))]
            var settingsMembers: [(key: String, value: JSONNode)] = []
            if case let .object(stored) = try Self.parseStored(settings, what: "settings").value { settingsMembers = stored }
            members += settingsMembers
            // The stored bytes must be those the revision was recorded with: its hash is over the
            // environment's canonical form, which embeds the stored service forms verbatim.
            let recomposed = CanonicalJSON.environment(name: environment, services: bodies, settings: settingsMembers.map { ($0.key, $0.value.value) })
            guard CanonicalJSON.sha256(recomposed) == summary.specHash else {
                throw StoreError.corrupt("revision \(wanted) of \(environment) does not match its hash")
            }
            var spec: EnvironmentSpec
            do {
                // Services are independent: parsed and decoded on every core (10,000 of them).
                let names = bodies.keys.sorted()
                let decoded = try Parallel.map(names, throwing: { name in
                    try ServiceSpec.decodeCanonical(try Self.parseStored(bodies[name]!, what: "service \(name)"), source: "revision \(wanted)", path: "services.\(name)")
                })
                spec = try EnvironmentSpec.decodeCanonical(JSONNode(.object(members)), source: "revision \(wanted)",
                                                           services: Dictionary(uniqueKeysWithValues: zip(names, decoded)))
            } catch let error as StoreError {
                throw error
            } catch {
                throw StoreError.corrupt("revision \(wanted) of \(environment) does not decode: \(error)")
            }
            return StoredRevision(summary: summary, spec: spec, serviceHashes: hashes)
        }
    }

    // MARK: events

    public func appendEvent(_ event: EventRecord) throws(StoreError) {
        try write { db in
            let envID = try Self.environmentID(db, name: event.environment, create: true)!
            try db.execute(sql: """
                INSERT INTO events (environment_id, revision_number, time, service, action, cause, outcome, duration_ms, detail)
                VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)
                """, arguments: [envID, event.revision, event.time, event.service, event.action, event.cause, event.outcome, event.durationMs, event.detail])
        }
    }

    /// Events after `afterID`, oldest first.
    public func events(environment: String, afterID: Int64 = 0, limit: Int = 1000) throws(StoreError) -> [EventRecord] {
        try read { db in
            guard let envID = try Self.environmentID(db, name: environment, create: false) else { return [] }
            return try Row.fetchAll(db, sql: """
                SELECT * FROM (SELECT * FROM events WHERE environment_id = ? AND id > ? ORDER BY id DESC LIMIT ?) ORDER BY id
                """, arguments: [envID, afterID, limit]).map { row in
                EventRecord(id: row["id"], environment: environment, revision: row["revision_number"], time: row["time"], service: row["service"],
                            action: row["action"], cause: row["cause"], outcome: row["outcome"], durationMs: row["duration_ms"], detail: row["detail"])
            }
        }
    }

    // MARK: helpers (run inside a transaction)

    static func environmentID(_ db: Database, name: String, create: Bool) throws -> Int64? {
        if let id = try Int64.fetchOne(db, sql: "SELECT id FROM environments WHERE name = ?", arguments: [name]) { return id }
        guard create else { return nil }
        try db.execute(sql: "INSERT INTO environments (name, created_at) VALUES (?, ?)", arguments: [name, Timestamp.now()])
        return db.lastInsertedRowID
    }

    static func storeSpec(_ db: Database, body: String) throws -> Int64 {
        let hash = CanonicalJSON.sha256(body)
        if let id = try Int64.fetchOne(db, sql: "SELECT id FROM specs WHERE hash = ?", arguments: [hash]) { return id }
        try db.execute(sql: "INSERT INTO specs (hash, body) VALUES (?, ?)", arguments: [hash, body])
        return db.lastInsertedRowID
    }

    static func serviceSpecIDs(_ db: Database, envID: Int64, number: Int) throws -> [String: Int64] {
        let rows = try Row.fetchAll(db, sql: """
            SELECT rs.service, rs.spec_id FROM revision_services rs JOIN revisions r ON r.id = rs.revision_id
            WHERE r.environment_id = ? AND r.number = ?
            """, arguments: [envID, number])
        return Dictionary(uniqueKeysWithValues: rows.map { ($0["service"] as String, $0["spec_id"] as Int64) })
    }

    static func describeChanges(old: [String: Int64], new: [String: Int64]) -> String {
        var parts: [String] = []
        for name in Set(old.keys).union(new.keys).sorted() {
            switch (old[name], new[name]) {
            case (nil, _?): parts.append("+\(name)")
            case (_?, nil): parts.append("-\(name)")
            case let (a?, b?) where a != b: parts.append("~\(name)")
            default: break
            }
        }
        return parts.joined(separator: " ")
    }

    static func summary(_ db: Database, environment: String, envID: Int64, number: Int) throws -> RevisionSummary? {
        try RevisionRow.fetchOne(db, sql: "SELECT \(RevisionRow.columns) FROM revisions WHERE environment_id = ? AND number = ?", arguments: [envID, number])?
            .summary(environment: environment)
    }

    static func parseStored(_ body: String, what: String) throws -> JSONNode {
        do { return try JSONParser.parse(body) } catch { throw StoreError.corrupt("stored \(what) is not valid JSON") }
    }
}

extension Migrator {
    static func verify(_ db: Database, migrations: [Migration], location: String) throws {
        let applied = try Row.fetchAll(db, sql: "SELECT version, checksum FROM schema_migrations")
        let known = Dictionary(uniqueKeysWithValues: migrations.map { ($0.version, $0) })
        let newest = migrations.map(\.version).max() ?? 0
        for row in applied {
            let version: Int = row["version"]
            guard let migration = known[version] else {
                throw StoreError.newerSchema(location: location, databaseVersion: applied.map { $0["version"] as Int }.max() ?? version, binaryVersion: newest)
            }
            if migration.checksum != row["checksum"] as String { throw StoreError.editedMigration(name: migration.name) }
        }
    }
}

/// An advisory lock (flock) on a file beside the database, held while it is opened and migrated.
/// Where the file cannot be made (a read-only folder), opening goes ahead unlocked.
struct OpeningLock {
    let descriptor: Int32

    init(_ path: String) {
        #if canImport(Glibc)
        descriptor = Glibc.open(path, O_CREAT | O_RDWR | O_CLOEXEC, 0o600)
        #else
        descriptor = Darwin.open(path, O_CREAT | O_RDWR | O_CLOEXEC, 0o600)
        #endif
        if descriptor >= 0 { while flock(descriptor, LOCK_EX) != 0 && errno == EINTR {} }
    }

    func release() {
        guard descriptor >= 0 else { return }
        flock(descriptor, LOCK_UN)
        close(descriptor)
    }
}
