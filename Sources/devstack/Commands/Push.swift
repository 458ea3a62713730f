import Application
import ArgumentParser
import Foundation

extension Devstack {
    struct Push: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "push",
            abstract: "Push a revision to an OCI registry as an artifact (signed with --sign; with its snapshot archives with --with-data).",
            discussion: "An unchanged blob is not uploaded again. Credentials come from docker's config.json and credential helpers.")

        @Argument(help: ArgumentHelp("Where to push it.", valueName: "REGISTRY/PATH:TAG")) var reference: String
        @Argument(help: "Revision number (the latest when left out).") var revision: Int?
        @Flag(name: .long, help: "Push the snapshot archives too, one layer each.") var withData = false
        @Option(name: .long, help: ArgumentHelp("Sign the bundle with this key (a name from devstack key generate, or a key file).", valueName: "KEY")) var sign: String?
        @OptionGroup var registry: RegistryFlags
        @OptionGroup var store: StoreOptions
        @OptionGroup var environment: EnvironmentOption

        func run() async throws {
            let workspace = try store.openForReading()
            let env = try workspace.environment(environment.env)
            let key = try sign.map(SigningUseCases.privateKey)
            let report = try await RegistryUseCases.push(workspace: workspace, environment: env, revision: revision, to: reference, withData: withData,
                                                         key: key, options: registry.options, sink: Output.sink())
            let sent = report.uploaded.reduce(0) { $0 + $1.size }
            print("pushed revision \(report.revision) of \(env) to \(report.reference)")
            print(Terminal.dim("uploaded \(report.uploaded.count) blob(s) (\(Bytes.format(sent))), \(report.present.count) already there, \(report.mounted.count) mounted"
                + (key.map { "; signed with key \($0.publicKey.fingerprint) (\($0.name))" } ?? "")))
        }
    }

    struct Pull: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "pull",
            abstract: "Pull an environment from an OCI registry, verify it and record it as a new revision (import oci://REF does the same).")

        @Argument(help: ArgumentHelp("What to pull.", valueName: "REGISTRY/PATH[:TAG][@sha256:DIGEST]")) var reference: String
        @OptionGroup var options: ImportOptions
        @OptionGroup var registry: RegistryFlags
        @OptionGroup var store: StoreOptions

        func run() async throws {
            try await RegistryUseCases.pull(reference, options: registry.options, message: options.message, allowHostAccess: options.allowHostAccess,
                                            trust: options.trust, allowUnsigned: options.allowUnsigned, open: store.open, sink: Output.sink())
        }
    }
}
