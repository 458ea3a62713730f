import EnvSpec
import GRDB

extension StateStore {
    /// Samples kept per engine and level: enough to smooth one noisy apply, few enough that
    /// the figures follow an engine that got faster or slower.
    public static let throughputSamplesKept = 5

    /// Records one apply's throughput measurement for `engine` (its endpoint), keeping only the
    /// newest samples of that level.
    public func recordThroughput(engine: String, _ sample: ThroughputSample) throws(StoreError) {
        try write { db in
            try db.execute(sql: "INSERT INTO engine_throughput (engine, parallel, steps, busy_ms, recorded_at) VALUES (?, ?, ?, ?, ?)",
                           arguments: [engine, sample.parallel, sample.steps, sample.busyMilliseconds, Timestamp.now()])
            try db.execute(sql: """
                DELETE FROM engine_throughput WHERE engine = ? AND parallel = ? AND id NOT IN (
                    SELECT id FROM engine_throughput WHERE engine = ? AND parallel = ? ORDER BY id DESC LIMIT ?)
                """, arguments: [engine, sample.parallel, engine, sample.parallel, Self.throughputSamplesKept])
        }
    }

    /// The engines with measurements, by endpoint.
    public func throughputEngines() throws(StoreError) -> [String] {
        try read { db in
            guard try db.tableExists("engine_throughput") else { return [] }
            return try String.fetchAll(db, sql: "SELECT DISTINCT engine FROM engine_throughput ORDER BY engine")
        }
    }

    /// The kept samples for `engine`, oldest first.
    public func throughput(engine: String) throws(StoreError) -> [ThroughputSample] {
        try read { db in
            guard try db.tableExists("engine_throughput") else { return [] }
            return try Row.fetchAll(db, sql: "SELECT parallel, steps, busy_ms FROM engine_throughput WHERE engine = ? ORDER BY id", arguments: [engine])
                .map { ThroughputSample(parallel: $0[0], steps: $0[1], busyMilliseconds: $0[2]) }
        }
    }
}
