import ArgumentParser
import EnvSpec
import Foundation
import StateStore

extension Devstack {
    struct Export: ParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Write a revision as a verifiable bundle a teammate can import.")

        @Argument(help: "Revision number (the latest when left out).") var revision: Int?
        @Option(name: .shortAndLong, help: "The bundle file to write ('-' for standard output).") var output: String
        @OptionGroup var store: StoreOptions
        @OptionGroup var environment: EnvironmentOption

        func run() throws {
            let db = try store.openExisting()
            let env = try db.resolveEnvironment(environment.env)
            let stored = try db.revision(environment: env, number: revision)
            let meta = RevisionMeta.local(source: .apply)
            let bundle = ExportBundle(revision: stored, exportedBy: meta.author, exportedFrom: meta.host)
            if output == "-" { return print(bundle.text, terminator: "") }
            do {
                try Data(bundle.text.utf8).write(to: URL(fileURLWithPath: output), options: .atomic)
            } catch {
                throw UserError("cannot write \(output): \(LocalFiles.reason(error))")
            }
            FileHandle.standardError.write(Data("exported revision \(stored.summary.number) of \(env) to \(output)\n".utf8))
        }
    }

    struct Import: ParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Verify a bundle and record it as a new revision (history is never rewritten).")

        @Argument(help: "The bundle file.") var file: String
        @Option(name: .shortAndLong, help: "A message for the new revision.") var message: String?
        @OptionGroup var store: StoreOptions

        func run() throws {
            let text: String
            do { text = try String(contentsOfFile: file, encoding: .utf8) } catch {
                throw UserError("\(file): cannot read the bundle: \(LocalFiles.reason(error))", exitCode: 2)
            }
            let (bundle, provenance) = try ExportBundle.read(text, file: file)
            let db = try store.open()
            let meta = RevisionMeta.local(message: message ?? "import of revision \(bundle.revision.number) by \(bundle.revision.author)@\(bundle.revision.host)",
                                          source: .import, provenance: provenance)
            switch try db.record(bundle.spec, meta: meta) {
            case let .recorded(s): print("imported \(file) as revision \(s.number) of \(s.environment)")
            case let .unchanged(s): print("no changes: revision \(s.number) of \(s.environment) already has this desired state")
            }
        }
    }
}
