import Application
import ArgumentParser

extension Devstack {
    struct Key: ParsableCommand {
        static let configuration = CommandConfiguration(commandName: "key", abstract: "Signing keys for bundles.", subcommands: [Generate.self])

        struct Generate: ParsableCommand {
            static let configuration = CommandConfiguration(
                commandName: "generate",
                abstract: "Make an Ed25519 key pair: the private key stays in ~/.config/devstack/keys, the public key line goes to your team's trusted-keys file.")

            @Argument(help: "The key's name (shown to those who verify it).") var name: String
            @Option(name: .shortAndLong, help: "Where to write the private key instead of the keys folder.") var output: String?

            func run() throws {
                let (path, publicKey) = try SigningUseCases.generate(name: name, output: output)
                Terminal.note("wrote the private key to \(path) (mode 0600); keep it to yourself")
                Terminal.note("add this line to the trusted-keys file of those who import your bundles:")
                print(publicKey.description)
            }
        }
    }
}
