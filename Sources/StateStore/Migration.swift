import EnvSpec
import GRDB

/// A forward-only schema step, embedded in the binary from `migrations/NNNN_name.sql`.
public struct Migration: Sendable, Equatable {
    public var version: Int
    public var name: String
    public var sql: String
    public init(version: Int, name: String, sql: String) {
        self.version = version
        self.name = name
        self.sql = sql
    }
    public var checksum: String { CanonicalJSON.sha256(sql) }
}

enum Migrator {
    /// Applies what is missing, refusing a database written by a newer binary or one whose applied
    /// migrations no longer match their files.
    static func migrate(_ db: Database, migrations: [Migration], location: String) throws {
        try db.execute(sql: """
            CREATE TABLE IF NOT EXISTS schema_migrations (
                version INTEGER PRIMARY KEY, name TEXT NOT NULL, checksum TEXT NOT NULL, applied_at TEXT NOT NULL)
            """)
        let applied = try Row.fetchAll(db, sql: "SELECT version, name, checksum FROM schema_migrations ORDER BY version")
        let known = Dictionary(uniqueKeysWithValues: migrations.map { ($0.version, $0) })
        let newest = migrations.map(\.version).max() ?? 0
        for row in applied {
            let version: Int = row["version"]
            guard let migration = known[version] else {
                throw StoreError.newerSchema(location: location, databaseVersion: applied.map { $0["version"] as Int }.max() ?? version, binaryVersion: newest)
            }
            if migration.checksum != row["checksum"] as String {
                throw StoreError.editedMigration(name: migration.name)
            }
        }
        let done = Set(applied.map { $0["version"] as Int })
        for migration in migrations.sorted(by: { $0.version < $1.version }) where !done.contains(migration.version) {
            try db.execute(sql: migration.sql)
            try db.execute(sql: "INSERT INTO schema_migrations (version, name, checksum, applied_at) VALUES (?, ?, ?, ?)",
                           arguments: [migration.version, migration.name, migration.checksum, Timestamp.now()])
        }
    }

    static func pending(_ db: Database, migrations: [Migration]) throws -> Bool {
        guard try db.tableExists("schema_migrations") else { return true }
        let done = Set(try Int.fetchAll(db, sql: "SELECT version FROM schema_migrations"))
        return migrations.contains { !done.contains($0.version) }
    }
}
