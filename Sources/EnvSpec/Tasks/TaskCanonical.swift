extension TaskSpec {
    /// Env-file syntax with defaults left out, so the form reads back through the same decoder.
    public var canonical: JSONValue {
        var m: [(String, JSONValue)] = [("service", .string(service)), (mode.rawValue, .strings(command))]
        if let description { m.append(("description", .string(description))) }
        if !env.isEmpty { m.append(("env", EnvValue.canonical(env))) }
        if let workingDir { m.append(("workingDir", .string(workingDir))) }
        if let user { m.append(("user", .string(user))) }
        if !dependsOn.isEmpty { m.append(("dependsOn", .strings(dependsOn))) }
        if args { m.append(("args", .bool(true))) }
        if interactive { m.append(("interactive", .bool(true))) }
        return .obj(m)
    }
}

extension WatchRule {
    public var canonical: JSONValue {
        var m: [(String, JSONValue)] = [("path", .string(path)), ("action", .string(action.rawValue))]
        if let target { m.append(("target", .string(target))) }
        if !ignore.isEmpty { m.append(("ignore", .strings(ignore))) }
        return .obj(m)
    }
}
