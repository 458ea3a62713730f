import EnvSpec
import Foundation

/// What to do with one seed, and why.
public struct SeedDecision: Sendable, Equatable {
    public enum Verdict: Sendable, Equatable {
        case run(String)
        case skip(String)
    }
    public var name: String
    public var checksum: String
    public var verdict: Verdict
}

public enum SeedPlanner {
    /// Seeds in dependency order (`after`, then name). A seed reruns when its checksum changed,
    /// its last run failed or never finished, or when forced; otherwise the ledger says why not.
    public static func plan(_ spec: EnvironmentSpec, checksums: [String: String], ledger: [String: SeedRun],
                            only: Set<String> = [], force: Bool = false) -> [SeedDecision] {
        var order: [String] = []
        var remaining = Set(spec.seeds.keys)
        while !remaining.isEmpty {
            let ready = remaining.filter { spec.seeds[$0]!.after.allSatisfy { !remaining.contains($0) } }.sorted()
            if ready.isEmpty { order += remaining.sorted(); break }
            order += ready
            remaining.subtract(ready)
        }
        var rerun: Set<String> = []
        return order.compactMap { name in
            guard only.isEmpty || only.contains(name) else { return nil }
            let checksum = checksums[name] ?? ""
            let verdict: SeedDecision.Verdict
            let upstream = spec.seeds[name]!.after.first { rerun.contains($0) }
            if force {
                verdict = .run("forced")
            } else if ledger[name] == nil {
                verdict = .run("never run")
            } else if let upstream {
                verdict = .run("seed \(upstream) it runs after is rerunning")
            } else if let last = ledger[name] {
                switch last.status {
                case .succeeded where last.checksum == checksum:
                    verdict = .skip("unchanged since revision \(last.revision.map(String.init) ?? "?") (checksum \(checksum.prefix(12)))")
                case .succeeded: verdict = .run("definition or files changed (checksum \(last.checksum.prefix(12)) → \(checksum.prefix(12)))")
                case .failed: verdict = .run("last run failed")
                case .running: verdict = .run("last run did not finish")
                }
            } else {
                verdict = .run("never run")
            }
            if case .run = verdict { rerun.insert(name) }
            return SeedDecision(name: name, checksum: checksum, verdict: verdict)
        }
    }

    /// SHA-256 over the seed's canonical definition and the contents of every file it reads.
    public static func checksum(_ seed: SeedSpec, files: [String: Data]) -> String {
        var text = CanonicalJSON.encode(seed.canonical)
        for path in files.keys.sorted() {
            text += "\n\(path)\0" + CanonicalJSON.sha256(files[path]!) + "\0\(files[path]!.count)"
        }
        return CanonicalJSON.sha256(text)
    }
}

public struct SeedOutcome: Sendable, Equatable {
    public enum Status: String, Sendable, Codable {
        case succeeded, failed, skipped
        /// A seed it runs after failed.
        case blocked
        public var isFailure: Bool { self == .failed || self == .blocked }
    }
    public var name: String
    public var status: Status
    public var detail: String
    public var durationMs: Int
    public init(name: String, status: Status, detail: String, durationMs: Int) {
        self.name = name
        self.status = status
        self.detail = detail
        self.durationMs = durationMs
    }
}
