/// Field-level differences between two environment specs, per service.
public struct SpecDiff: Sendable, Equatable {
    public enum Kind: String, Sendable, Codable { case added, removed, changed }

    public struct FieldChange: Sendable, Equatable, Codable {
        public var path: String
        public var kind: Kind
        public var old: String?
        public var new: String?
    }

    /// `section` is "service", "seed", "secret", "config", "task" or "watch" (a service's rules).
    public struct Entry: Sendable, Equatable, Codable {
        public var section: String
        public var name: String
        public var kind: Kind
        public var fields: [FieldChange]
    }

    public var entries: [Entry]
    public var isEmpty: Bool { entries.isEmpty }

    public init(from old: EnvironmentSpec, to new: EnvironmentSpec) {
        var entries: [Entry] = []
        func compare(_ section: String, _ a: [String: JSONValue], _ b: [String: JSONValue]) {
            for name in Set(a.keys).union(b.keys).sorted() {
                switch (a[name], b[name]) {
                case (nil, let value?): entries.append(Entry(section: section, name: name, kind: .added, fields: Self.fields(nil, value)))
                case (let value?, nil): entries.append(Entry(section: section, name: name, kind: .removed, fields: Self.fields(value, nil)))
                case let (x?, y?):
                    let fields = Self.fields(x, y)
                    if !fields.isEmpty { entries.append(Entry(section: section, name: name, kind: .changed, fields: fields)) }
                default: break
                }
            }
        }
        compare("service", old.services.mapValues(\.canonical), new.services.mapValues(\.canonical))
        compare("seed", old.seeds.mapValues(\.canonical), new.seeds.mapValues(\.canonical))
        compare("secret", old.secrets.mapValues(\.canonical), new.secrets.mapValues(\.canonical))
        compare("config", old.configs.mapValues { .string($0) }, new.configs.mapValues { .string($0) })
        compare("task", old.tasks.mapValues(\.canonical), new.tasks.mapValues(\.canonical))
        func watch(_ spec: EnvironmentSpec) -> [String: JSONValue] {
            spec.services.filter { !$0.value.develop.isEmpty }.mapValues { .array($0.develop.map { JSONNode($0.canonical) }) }
        }
        compare("watch", watch(old), watch(new))
        self.entries = entries
    }

    /// Leaf-by-leaf comparison; arrays are compared whole, as their order carries meaning.
    public static func fields(_ old: JSONValue?, _ new: JSONValue?) -> [FieldChange] {
        var a: [String: String] = [:], b: [String: String] = [:]
        if let old { flatten(old, "", into: &a) }
        if let new { flatten(new, "", into: &b) }
        var out: [FieldChange] = []
        for path in Set(a.keys).union(b.keys).sorted() {
            switch (a[path], b[path]) {
            case (nil, let y?): out.append(FieldChange(path: path, kind: .added, old: nil, new: y))
            case (let x?, nil): out.append(FieldChange(path: path, kind: .removed, old: x, new: nil))
            case let (x?, y?) where x != y: out.append(FieldChange(path: path, kind: .changed, old: x, new: y))
            default: break
            }
        }
        return out
    }

    static func flatten(_ value: JSONValue, _ path: String, into out: inout [String: String]) {
        if case let .object(members) = value, !members.isEmpty {
            for member in members { flatten(member.value.value, path.isEmpty ? member.key : "\(path).\(member.key)", into: &out) }
        } else if case let .object(members) = value, members.isEmpty {
            return // an empty map says nothing a diff should show
        } else if case let .array(items) = value, !items.isEmpty, items.allSatisfy({ if case .object = $0.value { return true } else { return false } }) {
            // Lists of records (ports, volumes) by position, so one changed field shows as one line.
            for (i, item) in items.enumerated() { flatten(item.value, "\(path)[\(i)]", into: &out) }
        } else {
            out[path] = CanonicalJSON.encode(value)
        }
    }

    public var summaryLine: String {
        let count = { (kind: Kind) in entries.filter { $0.kind == kind }.count }
        if isEmpty { return "no differences" }
        return "\(count(.added)) added, \(count(.changed)) changed, \(count(.removed)) removed"
    }
}
