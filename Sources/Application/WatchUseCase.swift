import DockerEngine
import EnvSpec
import Foundation
import HostFiles
import Reconciler
import StateStore

/// `devstack watch`: keeps the running services in step with the working tree, by their
/// `develop.watch` rules. The kernel says what changed (inotify); a batch is cut once the tree
/// has been quiet for a moment; the pure `WatchPlanner` says what each service needs; syncs go
/// through the engine's archive API, rebuilds through the normal plan.
public struct WatchUseCase: Sendable {
    public var workspace: Workspace
    public var environment: String
    public var settings: ConvergeSettings
    public var sink: ProgressSink
    /// How long the tree must be still before a batch is cut, and the longest a batch waits.
    public var quiet: Duration = .milliseconds(100)
    public var longest: Duration = .seconds(2)

    public init(workspace: Workspace, environment: String, settings: ConvergeSettings, sink: @escaping ProgressSink) {
        self.workspace = workspace
        self.environment = environment
        self.settings = settings
        self.sink = sink
    }

    /// The recorded revision's rules, made concrete for this machine.
    func targets() throws -> [WatchTarget] {
        let stored = try workspace.store.revision(environment: environment)
        let project = stored.summary.projectDirectory ?? FileManager.default.currentDirectoryPath
        var targets: [WatchTarget] = []
        for name in stored.spec.serviceNames {
            let service = stored.spec.services[name]!
            for rule in service.develop {
                let root = PathMath.join(project, rule.path)
                var context: (directory: String, ignore: DockerIgnore)?
                if let build = service.build {
                    let directory = PathMath.join(project, build.context)
                    if PathMath.isInside(directory, root) {
                        do { context = (directory, try ContextWalker.ignoreRules(directory, dockerfile: build.dockerfile)) } catch {
                            throw UseCaseError("\(error)")
                        }
                    }
                }
                targets.append(WatchTarget(service: name, rule: rule, root: root, context: context))
            }
        }
        guard !targets.isEmpty else {
            throw UseCaseError("no service of \(environment) has develop.watch rules: add them to the environment file and apply it (see docs/env-file.md)", invalidInput: true)
        }
        return targets
    }

    /// Watches until cancelled.
    public func run() async throws {
        try workspace.requireDockerEngine(environment, for: .watch)
        let targets = try targets()
        let watcher: FileWatcher
        do { watcher = try FileWatcher(roots: Array(Set(targets.map(\.root))).sorted()) } catch { throw UseCaseError("\(error)") }
        defer { watcher.stop() }
        for target in targets {
            let action = target.rule.action == .rebuild ? "rebuild" : "\(target.rule.action.rawValue) to \(target.rule.target ?? "/")"
            sink(.info("watching \(target.root) for \(target.service): \(action)"))
        }
        let buffer = ChangeBuffer()
        let collecting = Task {
            do {
                for try await paths in watcher.changes() { await buffer.add(paths) }
                await buffer.finish(nil)
            } catch {
                await buffer.finish(error)
            }
        }
        defer { collecting.cancel() }
        while true {
            guard let (paths, first) = try await buffer.nextBatch(quiet: quiet, longest: longest) else { return }
            await apply(WatchPlanner.plan(changes: paths, targets: targets), since: first)
        }
    }

    /// Carries out one batch; a failure is reported and the watch goes on.
    func apply(_ plan: WatchPlan, since first: ContinuousClock.Instant) async {
        guard !plan.isEmpty else { return }
        let engine: DockerContainerEngine
        do { engine = try Workspace.liveEngine() } catch { return sink(.error("\(error)")) }
        for service in plan.rebuilds.sorted() {
            do {
                let revision = try workspace.store.revision(environment: environment).summary.number
                // The converge's own notes (what it did), not its step-by-step lines.
                let sink = self.sink
                let notes: ProgressSink = { event in if case .note = event { sink(event) } }
                try await ConvergeUseCase(workspace: workspace, environment: environment, revision: revision, settings: settings, only: [service], sink: notes).run()
                report(service, "rebuilt and recreated", since: first, ok: true)
            } catch {
                report(service, "rebuild failed: \(error)", since: first, ok: false)
            }
        }
        for (service, items) in plan.syncs.sorted(by: { $0.key < $1.key }) {
            let container = Naming.container(environment, service)
            do {
                let archive = SyncArchive(items)
                if archive.hasEntries { try await engine.putArchive(container, path: "/", chunks: archive.chunks) }
                if !archive.deleted.isEmpty {
                    let result = try await engine.exec(container, command: ["rm", "-rf", "--"] + archive.deleted)
                    guard result.exitCode == 0 else { throw UseCaseError("rm in \(container) exited with \(result.exitCode): \(result.output)") }
                }
                var done: [String] = []
                if archive.copied > 0 || archive.deleted.isEmpty { done.append("synced \(archive.copied) file\(archive.copied == 1 ? "" : "s")") }
                if !archive.deleted.isEmpty { done.append("deleted \(archive.deleted.count)") }
                if plan.restarts.contains(service) {
                    try await engine.stopContainer(container, timeoutSeconds: 10)
                    try await engine.startContainer(container)
                    done.append("restarted")
                }
                report(service, done.joined(separator: ", "), since: first, ok: true)
            } catch {
                report(service, "sync failed: \(error)", since: first, ok: false)
            }
        }
    }

    /// One line per action with its latency from the first change of the batch; and an event.
    func report(_ service: String, _ what: String, since first: ContinuousClock.Instant, ok: Bool) {
        let ms = (ContinuousClock.now - first).milliseconds
        sink(ok ? .success("\(service): \(what)", " in \(ms) ms") : .error("\(service): \(what)"))
        try? workspace.store.appendEvent(EventRecord(environment: environment, revision: nil, service: service, action: EventAction.watch.rawValue,
                                                     cause: "files changed", outcome: ok ? EventOutcome.ok.rawValue : EventOutcome.failed.rawValue,
                                                     durationMs: ms, detail: what))
    }
}

/// Changed paths gathered between batches.
actor ChangeBuffer {
    private var paths: Set<String> = []
    private var first: ContinuousClock.Instant?
    private var last: ContinuousClock.Instant?
    private var waiter: CheckedContinuation<Void, Never>?
    private var ended = false
    private var failure: (any Error)?

    func add(_ more: [String]) {
        let now = ContinuousClock.now
        paths.formUnion(more)
        if first == nil { first = now }
        last = now
        waiter?.resume()
        waiter = nil
    }

    func finish(_ error: (any Error)?) {
        ended = true
        failure = error
        waiter?.resume()
        waiter = nil
    }

    private func waitForAny() async {
        if !paths.isEmpty || ended { return }
        await withCheckedContinuation { waiter = $0 }
    }

    /// The next batch once the tree has been still for `quiet` (or `longest` after its first
    /// change); nil when the watch ended.
    func nextBatch(quiet: Duration, longest: Duration) async throws -> (paths: [String], first: ContinuousClock.Instant)? {
        await waitForAny()
        if paths.isEmpty {
            if let failure { throw UseCaseError("the watch stopped: \(failure)") }
            return nil
        }
        while let first, let last, ContinuousClock.now - last < quiet, ContinuousClock.now - first < longest {
            try await Task.sleep(for: quiet - (ContinuousClock.now - last))
        }
        defer {
            paths = []
            first = nil
            last = nil
        }
        return (paths.sorted(), first!)
    }
}

/// The files of one sync as a tar stream (regular files and folders, each at its path in the
/// container, mtime kept), read piece by piece; paths that are gone are deletions.
final class SyncArchive: @unchecked Sendable {
    private var entries: [(item: WatchPlan.Item, info: stat)] = []
    private(set) var deleted: [String] = []
    private var index = 0
    private var current: (handle: FileHandle, left: Int, size: Int)?
    private var ended = false
    static let piece = 256 * 1024

    init(_ items: [WatchPlan.Item]) {
        for item in items {
            var info = stat()
            if lstat(item.local, &info) != 0 {
                if errno == ENOENT { deleted.append(item.target) }
                continue
            }
            let kind = info.st_mode & S_IFMT
            // Symbolic links and devices are not copied: a link could point anywhere on this machine.
            if kind == S_IFREG || kind == S_IFDIR { entries.append((item, info)) }
        }
    }

    var hasEntries: Bool { !entries.isEmpty }
    var copied: Int { entries.filter { $0.info.st_mode & S_IFMT == S_IFREG }.count }
    var chunks: ByteChunks { ByteChunks(unfolding: { try self.next() }) }

    func next() throws -> Data? {
        if var open = current {
            // Exactly the size announced in the header: a file that grew is cut, one that shrank is padded.
            let want = min(open.left, Self.piece)
            var data = (try open.handle.read(upToCount: want)) ?? Data()
            if data.isEmpty { data = Data(count: want) }
            open.left -= data.count
            if open.left == 0 {
                current = nil
                try? open.handle.close()
                return data + Tar.padding(open.size)
            }
            current = open
            return data
        }
        guard index < entries.count else {
            if ended { return nil }
            ended = true
            return Tar.end
        }
        let (item, info) = entries[index]
        index += 1
        let name = String(PathMath.normalize(item.target).drop(while: { $0 == "/" }))
        let mode = Int(info.st_mode & 0o7777)
        if info.st_mode & S_IFMT == S_IFDIR {
            return try Tar.entryHeader(name: name, size: 0, mode: mode, directory: true, modified: Int(info.st_mtim.tv_sec))
        }
        guard let handle = try? LocalFiles.openRegular(item.local) else {
            // Gone since the batch was cut: the next batch deletes it.
            return try Tar.entryHeader(name: name, size: 0, mode: mode, directory: false, modified: Int(info.st_mtim.tv_sec))
        }
        let size = Int(info.st_size)
        if size > 0 { current = (handle, size, size) } else { try? handle.close() }
        return try Tar.entryHeader(name: name, size: size, mode: mode, directory: false, modified: Int(info.st_mtim.tv_sec))
    }
}
