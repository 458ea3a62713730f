/// What a batch of changed paths asks of the running services, by the services' watch rules:
/// a pure function, so the rules' meaning is tested without files or an engine.
public struct WatchPlan: Sendable, Equatable {
    /// A path of the working tree and where it lands in a container.
    public struct Item: Sendable, Equatable {
        public var local: String
        public var target: String
        public init(local: String, target: String) {
            self.local = local
            self.target = target
        }
    }

    /// Paths to copy or delete, by service, sorted by target.
    public var syncs: [String: [Item]] = [:]
    /// Services to restart after their sync.
    public var restarts: Set<String> = []
    /// Services to rebuild and recreate (which makes any sync of theirs moot).
    public var rebuilds: Set<String> = []

    public var isEmpty: Bool { syncs.isEmpty && rebuilds.isEmpty }
    public init() {}
}

/// One rule made concrete for this machine: its absolute path and the ignore rules that apply.
public struct WatchTarget: Sendable {
    public var service: String
    public var rule: WatchRule
    /// `rule.path` joined to the project folder.
    public var root: String
    /// The rule's own `ignore`, relative to `root`.
    public var ignore: DockerIgnore
    /// The service's build context and its `.dockerignore`, when `root` lies inside the context.
    public var context: (directory: String, ignore: DockerIgnore)?

    public init(service: String, rule: WatchRule, root: String, context: (directory: String, ignore: DockerIgnore)? = nil) {
        self.service = service
        self.rule = rule
        self.root = root
        self.ignore = DockerIgnore(text: rule.ignore.joined(separator: "\n"))
        self.context = context
    }
}

public enum WatchPlanner {
    /// Editors' scratch files, never synced: vim's swap files and its write test, emacs' locks
    /// and backups.
    public static func isScratch(_ name: String) -> Bool {
        name.hasSuffix("~") || name.hasSuffix(".swp") || name.hasSuffix(".swx") || name.hasPrefix(".#") || name == "4913"
    }

    public static func plan(changes: [String], targets: [WatchTarget]) -> WatchPlan {
        var plan = WatchPlan()
        var items: [String: [String: String]] = [:]
        for path in Set(changes) {
            let name = PathMath.components(path).last ?? ""
            if isScratch(name) { continue }
            for target in targets {
                guard path == target.root || path.hasPrefix(target.root + "/") else { continue }
                let relative = path == target.root ? "" : String(path.dropFirst(target.root.count + 1))
                if !relative.isEmpty && target.ignore.excludes(relative) { continue }
                if let context = target.context, PathMath.isInside(context.directory, path), path != context.directory {
                    if context.ignore.excludes(PathMath.relative(from: context.directory, to: path)) { continue }
                }
                switch target.rule.action {
                case .rebuild: plan.rebuilds.insert(target.service)
                case .sync, .syncRestart:
                    let base = target.rule.target ?? "/"
                    items[target.service, default: [:]][relative.isEmpty ? base : PathMath.join(base, relative)] = path
                    if target.rule.action == .syncRestart { plan.restarts.insert(target.service) }
                }
            }
        }
        for (service, byTarget) in items where !plan.rebuilds.contains(service) {
            plan.syncs[service] = byTarget.keys.sorted().map { WatchPlan.Item(local: byTarget[$0]!, target: $0) }
        }
        plan.restarts.subtract(plan.rebuilds)
        return plan
    }
}
