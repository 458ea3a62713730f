import EnvSpec
import Foundation
import GRDB
import StateStore

// Fills a state database with N revisions of an S-service environment, one service changing per
// revision, then times the devstack CLI on it. Peers in the same run: a naive store that keeps
// the whole spec per revision (for size), and `devstack --version` (the process start-up floor).

func argument(_ name: String, _ fallback: String) -> String {
    let args = CommandLine.arguments
    if let i = args.firstIndex(of: name), i + 1 < args.count { return args[i + 1] }
    return fallback
}

let revisions = Int(argument("--revisions", "10000"))!
let serviceCount = Int(argument("--services", "40"))!
let binary = argument("--devstack", ".build/release/devstack")
let runs = Int(argument("--runs", "5"))!
let dir = FileManager.default.temporaryDirectory.appendingPathComponent("devstack-bench-\(UUID().uuidString.prefix(8))").path
try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
let path = dir + "/state.db", naivePath = dir + "/naive.db"

func service(_ i: Int, version: Int) -> ServiceSpec {
    var s = ServiceSpec(image: "registry.example/openedx/service-\(i):2026.\(i % 7)")
    s.command = ["gunicorn", "--bind", "0.0.0.0:80\(i % 100)", "app.wsgi:application", "--workers", "2"]
    s.env = ["DJANGO_SETTINGS_MODULE": .literal("app.settings.devstack"), "DB_HOST": .literal("mysql"), "CACHE": .literal("redis:6379"),
             "SERVICE_VERSION": .literal(String(version)), "FEATURES": .literal("courseware,discussions,certificates,analytics")]
    s.ports = [PortSpec(hostPort: 18000 + i, containerPort: 8000)]
    s.volumes = [MountSpec(type: .volume, source: "data-\(i)", target: "/data")]
    s.healthcheck = HealthcheckSpec(command: ["curl", "-fsS", "http://localhost:8000/heartbeat"])
    s.labels = ["org.openedx.team": "team-\(i % 5)"]
    if i > 0 { s.dependsOn = ["svc-0": .healthy] }
    return s
}

var spec = EnvironmentSpec(name: "bench")
var versions = Array(repeating: 0, count: serviceCount)
for i in 0..<serviceCount { spec.services["svc-\(i)"] = service(i, version: 0) }

print("filling \(path) with \(revisions) revisions of a \(serviceCount)-service environment…")
let store = try StateStore.open(path: path)
let naive = try DatabaseQueue(path: naivePath)
try naive.write { db in try db.execute(sql: "CREATE TABLE revisions (number INTEGER PRIMARY KEY, body TEXT NOT NULL)") }
let fillStart = Date()
for number in 1...revisions {
    if number > 1 {
        let i = (number * 7) % serviceCount
        versions[i] += 1
        spec.services["svc-\(i)"] = service(i, version: versions[i])
    }
    _ = try store.record(spec, meta: RevisionMeta(author: "bench", host: "bench", message: "change \(number)", source: .apply))
    let body = spec.canonicalJSON
    try naive.write { db in try db.execute(sql: "INSERT INTO revisions (number, body) VALUES (?, ?)", arguments: [number, body]) }
}
let fillSeconds = Date().timeIntervalSince(fillStart)
try naive.close()
// --fill-only: leave the filled database for another benchmark (scripts/bench-ui) and stop.
if CommandLine.arguments.contains("--fill-only") {
    print("filled \(path) in \(String(format: "%.0f", fillSeconds)) s")
    exit(0)
}

func size(_ p: String) -> Int {
    ["", "-wal"].reduce(0) { $0 + ((try? FileManager.default.attributesOfItem(atPath: p + $1)[.size] as? Int) ?? 0) }
}

func median(_ xs: [Double]) -> Double { xs.sorted()[xs.count / 2] }

/// Median wall time of running the CLI, in milliseconds. posix_spawn and waitpid, because
/// Foundation's Process polls for exit every 50 ms, which would swamp the figures.
func time(_ arguments: [String]) -> Double {
    let argv = [binary] + arguments + (arguments == ["--version"] ? [] : ["--state", path])
    var samples: [Double] = []
    for _ in 0..<runs {
        var actions = posix_spawn_file_actions_t()
        posix_spawn_file_actions_init(&actions)
        posix_spawn_file_actions_addopen(&actions, 1, "/dev/null", O_WRONLY, 0)
        posix_spawn_file_actions_addopen(&actions, 2, "/dev/null", O_WRONLY, 0)
        var cArgs = argv.map { strdup($0) } + [nil]
        defer { cArgs.forEach { free($0) }; posix_spawn_file_actions_destroy(&actions) }
        var pid: pid_t = 0
        let start = DispatchTime.now().uptimeNanoseconds
        guard posix_spawn(&pid, binary, &actions, nil, &cArgs, environ) == 0 else { fatalError("cannot run \(binary)") }
        var status: Int32 = 0
        waitpid(pid, &status, 0)
        samples.append(Double(DispatchTime.now().uptimeNanoseconds - start) / 1_000_000)
        if status != 0 { print("warning: devstack \(arguments.joined(separator: " ")) exited with status \(status)") }
    }
    return median(samples)
}

let floor = time(["--version"])
let rows: [(String, [String])] = [
    ("history (newest 256)", ["history"]),
    ("history --all (\(revisions))", ["history", "--all"]),
    ("history --json", ["history", "--json"]),
    ("show \(revisions / 2)", ["show", String(revisions / 2)]),
    ("diff 1 \(revisions)", ["diff", "1", String(revisions)]),
    ("diff \(revisions - 1) \(revisions)", ["diff", String(revisions - 1), String(revisions)]),
]
let dbBytes = size(path), naiveBytes = size(naivePath)
print("")
print("fill: \(String(format: "%.1f", fillSeconds)) s (\(String(format: "%.2f", fillSeconds * 1000 / Double(revisions))) ms per revision)")
print("database: \(dbBytes / 1024) KiB, \(dbBytes / revisions) bytes per revision")
print("naive peer (whole spec per revision): \(naiveBytes / 1024) KiB, \(naiveBytes / revisions) bytes per revision")
print("content addressing: \(String(format: "%.2f", Double(dbBytes) / Double(naiveBytes)))× the naive size")
print("")
print("command                         median ms   × start-up floor")
print("devstack --version (floor)      \(String(format: "%9.1f", floor))   1.00")
for (label, args) in rows {
    let ms = time(args)
    print("\(label.padding(toLength: 30, withPad: " ", startingAt: 0))  \(String(format: "%9.1f", ms))   \(String(format: "%.2f", ms / floor))")
}
print("\n(\(runs) runs each; database kept at \(path))")
