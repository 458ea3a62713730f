-- The engine's measured throughput, from which an apply without --parallel chooses how many
-- operations to run at once (ParallelismTuner). One row per apply that kept the engine at its
-- level: the engine's endpoint, the level, the container operations finished and the time at
-- least one was in flight. Only the newest rows per engine and level are kept.

CREATE TABLE engine_throughput (
    id           INTEGER PRIMARY KEY,
    engine       TEXT NOT NULL,
    parallel     INTEGER NOT NULL,
    steps        INTEGER NOT NULL,
    busy_ms      INTEGER NOT NULL,
    recorded_at  TEXT NOT NULL
);
CREATE INDEX engine_throughput_by_engine ON engine_throughput (engine, parallel, id);
