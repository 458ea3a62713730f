extension SpecDecoder {
    static let taskKeys = ["service", "exec", "run", "description", "env", "workingDir", "user", "dependsOn", "args", "interactive"]

    /// A task key as recorded: `NAME`, or `INCLUDE:NAME` for an included environment's task.
    mutating func taskKey(_ key: String, _ path: String) -> Bool {
        let parts = key.split(separator: TaskLookup.separator, omittingEmptySubsequences: false).map(String.init)
        guard parts.count <= 2, parts.allSatisfy(Names.isValid) else {
            fail(path, "invalid task name \"\(key)\": \(Names.ruleText) (an included environment's task is INCLUDE:NAME)")
            return false
        }
        return true
    }

    /// `{"service": S, "exec" | "run": [...], ...}`.
    mutating func task(_ node: JSONNode, _ path: String) -> TaskSpec? {
        guard let members = object(node, path, allowed: Self.taskKeys) else { return nil }
        let before = diagnostics.count
        var service: String?
        var commands: [(TaskSpec.Mode, [String])] = []
        var task = TaskSpec(service: "", mode: .exec, command: [])
        for (key, value) in members {
            let p = Self.join(path, key)
            switch key {
            case "service": service = string(value, p)
            case "exec": if let a = argv(value, p) { commands.append((.exec, a)) }
            case "run": if let a = argv(value, p) { commands.append((.run, a)) }
            case "description": task.description = string(value, p)
            case "env": task.env = env(value, p)
            case "workingDir": task.workingDir = string(value, p)
            case "user": task.user = string(value, p)
            case "dependsOn": task.dependsOn = argv(value, p) ?? []
            case "args": task.args = bool(value, p) ?? false
            case "interactive": task.interactive = bool(value, p) ?? false
            default: break
            }
        }
        guard diagnostics.count == before else { return nil }
        guard let service else { fail(path, "expected \"service\": the service whose container or image runs the task"); return nil }
        guard commands.count == 1, let (mode, command) = commands.first else {
            fail(path, "expected exactly one of \"exec\" (in the running container) or \"run\" (in a one-off container of the service's image)")
            return nil
        }
        if command.isEmpty { fail(Self.join(path, mode.rawValue), "expected the command and its arguments, found an empty array"); return nil }
        task.service = service
        task.mode = mode
        task.command = command
        return task
    }

    /// `"develop": {"watch": [rules]}` of a service.
    mutating func develop(_ node: JSONNode, _ path: String) -> [WatchRule] {
        guard let members = object(node, path, allowed: ["watch"]), let watch = members.first?.value else { return [] }
        let p = Self.join(path, "watch")
        guard case let .array(items) = watch.value else { fail(p, "expected an array of watch rules, found \(watch.typeName)"); return [] }
        return items.enumerated().compactMap { watchRule($1, "\(p)[\($0)]") }
    }

    mutating func watchRule(_ node: JSONNode, _ path: String) -> WatchRule? {
        guard let members = object(node, path, allowed: ["path", "target", "action", "ignore"]) else { return nil }
        let before = diagnostics.count
        var rulePath: String?, target: String?, action: WatchRule.Action?, ignore: [String] = []
        for (key, value) in members {
            let p = Self.join(path, key)
            switch key {
            case "path":
                guard let s = string(value, p) else { continue }
                // Lexical here; the loader checks the rebased path stays in the workspace.
                if s.hasPrefix("/") || s.hasPrefix("~") { fail(p, "expected a path relative to the environment file, found \"\(s)\""); continue }
                rulePath = rebasePath(s)
            case "target":
                guard let s = string(value, p) else { continue }
                if !s.hasPrefix("/") { fail(p, "expected an absolute path in the container, found \"\(s)\""); continue }
                target = s
            case "action": action = enumValue(value, p, WatchRule.Action.self)
            case "ignore": ignore = argv(value, p) ?? []
            default: break
            }
        }
        guard diagnostics.count == before else { return nil }
        guard let rulePath else { fail(path, "expected \"path\": the folder or file to watch"); return nil }
        guard let action else { fail(path, "expected \"action\": one of \"sync\", \"rebuild\", \"sync+restart\""); return nil }
        if action != .rebuild && target == nil {
            fail(path, "expected \"target\": where \"\(rulePath)\" lands in the container for \"\(action.rawValue)\"")
            return nil
        }
        return WatchRule(path: PathMath.normalize(rulePath), target: target.map(PathMath.normalize), action: action, ignore: ignore)
    }
}
