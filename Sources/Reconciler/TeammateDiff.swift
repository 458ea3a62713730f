import EnvSpec


/// "Why does it work on your machine?": my desired and applied state against a teammate's
/// export, one line per difference. Pure; the command gathers both sides.
public enum TeammateDiff {
    public struct Side: Sendable {
        public var spec: EnvironmentSpec
        public var lock: [String: ImageLock]
        public var seeds: [String: SeedState]
        public var snapshots: [SnapshotRecord]
        public var devstackVersion: String
        public init(spec: EnvironmentSpec, lock: [String: ImageLock], seeds: [String: SeedState], snapshots: [SnapshotRecord], devstackVersion: String) {
            self.spec = spec
            self.lock = lock
            self.seeds = seeds
            self.snapshots = snapshots
            self.devstackVersion = devstackVersion
        }
    }

    public struct Difference: Sendable, Equatable, Codable {
        /// "service lms", "seed schema", "snapshot base", "devstack".
        public var group: String
        public var field: String
        public var mine: String?
        public var theirs: String?
        public var line: String { "\(group): \(field): \(mine ?? "(none)") → \(theirs ?? "(none)")" }
    }

    public static func compare(mine: Side, theirs: Side) -> [Difference] {
        var out: [Difference] = []
        for entry in SpecDiff(from: mine.spec, to: theirs.spec).entries {
            let group = "\(entry.section) \(entry.name)"
            switch entry.kind {
            case .added: out.append(Difference(group: group, field: "defined", mine: nil, theirs: "only theirs"))
            case .removed: out.append(Difference(group: group, field: "defined", mine: "only mine", theirs: nil))
            case .changed: out += entry.fields.map { Difference(group: group, field: $0.path, mine: $0.old, theirs: $0.new) }
            }
        }
        for service in Set(mine.lock.keys).union(theirs.lock.keys).sorted() {
            let a = mine.lock[service].map { ImageLock.short($0.digest) }, b = theirs.lock[service].map { ImageLock.short($0.digest) }
            if a != b { out.append(Difference(group: "service \(service)", field: "image digest", mine: a, theirs: b)) }
        }
        for seed in Set(mine.seeds.keys).union(theirs.seeds.keys).sorted() {
            let a = mine.seeds[seed], b = theirs.seeds[seed]
            if a?.checksum != b?.checksum {
                out.append(Difference(group: "seed \(seed)", field: "checksum", mine: a.map { String($0.checksum.prefix(12)) }, theirs: b.map { String($0.checksum.prefix(12)) }))
            }
            if a?.status != b?.status {
                out.append(Difference(group: "seed \(seed)", field: "last run", mine: a?.status ?? "never run", theirs: b?.status ?? "never run"))
            }
        }
        let mySnapshots = Dictionary(mine.snapshots.map { ($0.name, $0) }) { a, _ in a }
        let theirSnapshots = Dictionary(theirs.snapshots.map { ($0.name, $0) }) { a, _ in a }
        for name in Set(mySnapshots.keys).union(theirSnapshots.keys).sorted() {
            let a = mySnapshots[name].map(snapshotDigest), b = theirSnapshots[name].map(snapshotDigest)
            if a != b { out.append(Difference(group: "snapshot \(name)", field: "volumes", mine: a, theirs: b)) }
        }
        if mine.devstackVersion != theirs.devstackVersion {
            out.append(Difference(group: "devstack", field: "version", mine: mine.devstackVersion, theirs: theirs.devstackVersion))
        }
        return out.sorted { ($0.group, $0.field) < ($1.group, $1.field) }
    }

    static func snapshotDigest(_ s: SnapshotRecord) -> String {
        s.volumes.sorted { $0.volume < $1.volume }.map { "\($0.volume)=\($0.sha256.prefix(12))" }.joined(separator: " ")
    }
}
