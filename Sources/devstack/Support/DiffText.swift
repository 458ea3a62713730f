import EnvSpec

/// A spec diff as coloured lines, as `diff A B` prints it.
enum DiffText {
    static func render(_ diff: SpecDiff) -> String {
        var out = ""
        for entry in diff.entries {
            switch entry.kind {
            case .added: out += Terminal.green("+ \(entry.section) \(entry.name)") + "\n"
            case .removed: out += Terminal.red("- \(entry.section) \(entry.name)") + "\n"
            case .changed:
                out += Terminal.yellow("~ \(entry.section) \(entry.name)") + "\n"
                for field in entry.fields {
                    switch field.kind {
                    case .added: out += Terminal.green("    + \(field.path): \(field.new ?? "")") + "\n"
                    case .removed: out += Terminal.red("    - \(field.path): \(field.old ?? "")") + "\n"
                    case .changed: out += Terminal.yellow("    ~ \(field.path): \(field.old ?? "") → \(field.new ?? "")") + "\n"
                    }
                }
            }
        }
        return out
    }
}
