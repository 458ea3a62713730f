import Application
import ArgumentParser
import Foundation

extension Devstack {
    struct Export: ParsableCommand {
        static let configuration = CommandConfiguration(commandName: "export", abstract: "Write a revision as a verifiable bundle a teammate can import.")

        @Argument(help: "Revision number (the latest when left out).") var revision: Int?
        @Option(name: .shortAndLong, help: "The bundle file to write ('-' for standard output).") var output: String
        @Flag(name: .long, help: "Include the snapshot archives themselves, not only their digests.") var withData = false
        @Option(name: .long, help: ArgumentHelp("Sign the bundle with this key (a name from devstack key generate, or a key file).", valueName: "KEY")) var sign: String?
        @OptionGroup var store: StoreOptions
        @OptionGroup var environment: EnvironmentOption

        func run() throws {
            let workspace = try store.openForReading()
            let env = try workspace.environment(environment.env)
            let key = try sign.map(SigningUseCases.privateKey)
            let (bundle, number) = try SharingUseCases.export(workspace: workspace, environment: env, revision: revision, withData: withData)
            if output == "-" { return FileHandle.standardOutput.write(try SharingUseCases.bytes(bundle, signedWith: key)) }
            try SharingUseCases.write(bundle, to: output, signedWith: key)
            Terminal.note("exported revision \(number) of \(env) to \(output)\(key.map { ", signed with key \($0.publicKey.fingerprint) (\($0.name))" } ?? "")")
        }
    }

    struct Import: AsyncParsableCommand {
        static let configuration = CommandConfiguration(commandName: "import", abstract: "Verify a bundle (a file, or oci://REF in a registry) and record it as a new revision (history is never rewritten).")

        @Argument(help: "The bundle file, or oci://REGISTRY/PATH[:TAG][@sha256:DIGEST].") var file: String
        @OptionGroup var options: ImportOptions
        @OptionGroup var registry: RegistryFlags
        @OptionGroup var store: StoreOptions

        func run() async throws {
            if file.hasPrefix("oci://") {
                return try await RegistryUseCases.pull(file, options: registry.options, message: options.message, allowHostAccess: options.allowHostAccess,
                                                       trust: options.trust, allowUnsigned: options.allowUnsigned, open: store.open, sink: Output.sink())
            }
            try SharingUseCases.importBundle(file: file, message: options.message, allowHostAccess: options.allowHostAccess, trust: options.trust,
                                             allowUnsigned: options.allowUnsigned, open: store.open, sink: Output.sink())
        }
    }
}

/// What import and pull accept from someone else's bundle.
struct ImportOptions: ParsableArguments {
    @Option(name: .shortAndLong, help: "A message for the new revision.") var message: String?
    @Flag(name: .long, help: "Accept what the bundle asks of this machine (binds outside the project, the engine socket, ports on other addresses, secret files, build contexts); it is listed first and recorded with the revision.")
    var allowHostAccess = false
    @Option(name: .long, help: ArgumentHelp("Trust this key (an \"ed25519 BASE64 NAME\" line, or a file of them) besides ./trusted-keys.", valueName: "KEY")) var trust: [String] = []
    @Flag(name: .long, help: "Import an unsigned bundle even though trusted keys are set.") var allowUnsigned = false
}
