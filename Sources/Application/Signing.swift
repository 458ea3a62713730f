import EnvSpec
import Foundation
import HostFiles
import StateStore

/// Signed bundles: `devstack key generate`, `export --sign`, and the trust policy `import`
/// applies. Private keys live in the user's config folder, never in the state database.
public enum SigningUseCases {
    /// `$XDG_CONFIG_HOME/devstack/keys`, or `~/.config/devstack/keys`.
    public static var keysDirectory: String {
        let environment = ProcessInfo.processInfo.environment
        let config = environment["XDG_CONFIG_HOME"].flatMap { $0.isEmpty ? nil : $0 } ?? (NSHomeDirectory() + "/.config")
        return config + "/devstack/keys"
    }

    /// Makes a key pair; the private key goes to `output` (or the keys folder) as a new 0600 file,
    /// never over an existing one. Returns the private key's path and the public key's line.
    public static func generate(name: String, output: String?) throws -> (path: String, publicKey: BundleSignature.PublicKey) {
        guard Names.isValid(name) else { throw UseCaseError("invalid key name \"\(name)\": \(Names.ruleText)", invalidInput: true) }
        let path = output ?? "\(keysDirectory)/\(name).key"
        if FileManager.default.fileExists(atPath: path) || (try? FileManager.default.destinationOfSymbolicLink(atPath: path)) != nil {
            throw UseCaseError("\(path) already exists: devstack never writes over a key; remove it or pick another name", invalidInput: true)
        }
        let key = BundleSignature.PrivateKey.generate(name: name)
        try Files.createPrivateFolder(PathMath.directory(of: path))
        try Files.writePrivate(Data(key.fileText.utf8), to: path)
        return (path, key.publicKey)
    }

    /// A private key by name (in the keys folder) or by path.
    public static func privateKey(_ reference: String) throws -> BundleSignature.PrivateKey {
        let path = reference.contains("/") ? reference : "\(keysDirectory)/\(reference).key"
        let text: String
        do { text = try LocalFiles.readText(path, limit: 64 * 1024) } catch {
            throw UseCaseError("cannot read the signing key \(path): \(LocalFiles.reason(error)) (devstack key generate NAME makes one)", invalidInput: true)
        }
        guard let key = BundleSignature.PrivateKey(fileText: text) else {
            throw UseCaseError("\(path) is not a devstack signing key (expected \"ed25519-private BASE64 NAME\")", invalidInput: true)
        }
        return key
    }

    /// Who may sign the bundles this machine imports: the `trusted-keys` file of the current
    /// folder or of the workspace (`DEVSTACK_WORKSPACE`), and keys given with `--trust` (a key
    /// line or a file of them). Empty when none exists: then nothing is required.
    public static func trustedKeys(extra: [String]) throws -> (keys: [BundleSignature.PublicKey], sources: [String]) {
        var keys: [BundleSignature.PublicKey] = []
        var sources: [String] = []
        var files = ["trusted-keys"]
        if let workspace = ProcessInfo.processInfo.environment["DEVSTACK_WORKSPACE"], !workspace.isEmpty { files.append(workspace + "/trusted-keys") }
        for file in files where FileManager.default.fileExists(atPath: file) {
            keys += try readTrustFile(file)
            sources.append(file)
        }
        for item in extra {
            if let key = BundleSignature.PublicKey(line: item) {
                keys.append(key)
                sources.append("--trust")
            } else {
                keys += try readTrustFile(item)
                sources.append(item)
            }
        }
        return (keys, sources)
    }

    static func readTrustFile(_ file: String) throws -> [BundleSignature.PublicKey] {
        let text: String
        do { text = try LocalFiles.readText(file, limit: 1 << 20) } catch {
            throw UseCaseError("cannot read trusted keys from \(file): \(LocalFiles.reason(error))", invalidInput: true)
        }
        do { return try BundleSignature.trustedKeys(text, file: file) } catch { throw UseCaseError("\(error)", invalidInput: true) }
    }

    /// The trust policy: a signature that does not match is always refused; with trusted keys,
    /// an unsigned bundle is refused (unless `allowUnsigned`) and so is one signed by another key.
    /// Returns the line to show about the signer; nil for an unsigned bundle where none is asked for.
    public static func check(_ signature: BundleSignature.Signature?, file: String, trusted: [BundleSignature.PublicKey], sources: [String],
                             allowUnsigned: Bool) throws -> String? {
        guard let signature else {
            if trusted.isEmpty { return nil }
            if allowUnsigned { return "\(file) is not signed; imported anyway (--allow-unsigned)" }
            throw UseCaseError("\(file) is not signed, and \(sources.joined(separator: ", ")) lists the keys bundles must be signed with; nothing was imported (--allow-unsigned to import it anyway)",
                               invalidInput: true)
        }
        let who = "key \(signature.key.fingerprint)\(signature.key.name.isEmpty ? "" : " (\(signature.key.name))")"
        if let known = trusted.first(where: { $0.raw == signature.key.raw }) {
            return "\(file) is signed by \(known.name.isEmpty ? "a trusted key" : known.name), key \(signature.key.fingerprint), trusted by \(sources.joined(separator: ", "))"
        }
        if trusted.isEmpty { return "\(file) is signed by \(who); no trusted-keys file here says whose it is" }
        throw UseCaseError("\(file) is signed by \(who), which is not among the keys in \(sources.joined(separator: ", ")); nothing was imported. Add its line to trusted-keys if you trust it",
                           invalidInput: true)
    }
}
