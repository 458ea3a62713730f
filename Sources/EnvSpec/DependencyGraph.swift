/// The service dependency graph as text a person can render.
public enum DependencyGraph {
    public enum Format: Sendable { case dot, mermaid }

    public static func render(_ spec: EnvironmentSpec, format: Format) -> String {
        let names = spec.serviceNames
        var lines: [String] = []
        switch format {
        case .dot:
            lines.append("digraph \"\(spec.name)\" {")
            lines.append("  rankdir=LR;")
            for name in names { lines.append("  \"\(name)\";") }
            for name in names {
                for (dep, condition) in spec.services[name]!.dependsOn.sorted(by: { $0.key < $1.key }) {
                    lines.append("  \"\(name)\" -> \"\(dep)\" [label=\"\(condition.rawValue)\"];")
                }
            }
            lines.append("}")
        case .mermaid:
            lines.append("graph LR")
            for name in names { lines.append("  \(id(name))[\"\(name)\"]") }
            for name in names {
                for (dep, condition) in spec.services[name]!.dependsOn.sorted(by: { $0.key < $1.key }) {
                    lines.append("  \(id(name)) -->|\(condition.rawValue)| \(id(dep))")
                }
            }
        }
        return lines.joined(separator: "\n")
    }

    static func id(_ name: String) -> String { name.replacingOccurrences(of: "-", with: "_") }
}
