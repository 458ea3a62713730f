import ArgumentParser
import EnvSpec
import Application

extension Devstack {
    struct Show: ParsableCommand {
        static let configuration = CommandConfiguration(commandName: "show", abstract: "Print a revision's desired state (the latest when REV is left out).")

        @Argument(help: "Revision number.") var revision: Int?
        @OptionGroup var store: StoreOptions
        @OptionGroup var environment: EnvironmentOption
        @OptionGroup var output: OutputOptions

        func run() throws {
            let workspace = try store.openForReading()
            let env = try workspace.environment(environment.env)
            let stored = try workspace.revision(environment: env, number: revision)
            let s = stored.summary
            if output.json {
                print(CanonicalJSON.pretty(.object([
                    (key: "revision", value: JSONNode(RevisionJSON.summary(s))),
                    (key: "spec", value: JSONNode(stored.spec.fileForm)),
                ])))
                return
            }
            // Only the environment goes to standard output, so `show > env.json` round-trips.
            Terminal.note("revision \(s.number) of \(s.environment)  (\(s.source.rawValue) by \(s.author)@\(s.host), \(s.createdAt))")
            if !s.message.isEmpty { Terminal.note("message: \(s.message)") }
            Terminal.note("spec hash: \(s.specHash)")
            print(CanonicalJSON.pretty(stored.spec.fileForm))
        }
    }
}

enum RevisionJSON {
    static func summary(_ s: RevisionSummary) -> JSONValue {
        func str(_ v: String) -> JSONNode { JSONNode(.string(v)) }
        var members: [(key: String, value: JSONNode)] = [
            ("environment", str(s.environment)), ("number", JSONNode(.number(Double(s.number)))),
            ("parent", JSONNode(s.parent.map { .number(Double($0)) } ?? .null)), ("specHash", str(s.specHash)),
            ("author", str(s.author)), ("host", str(s.host)), ("createdAt", str(s.createdAt)), ("message", str(s.message)),
            ("source", str(s.source.rawValue)), ("changes", str(s.changes)),
        ]
        if let p = s.provenance, let node = try? JSONParser.parse(p) { members.append(("provenance", node)) }
        return .object(members)
    }
}
