import Crypto
import Foundation

/// Ed25519 signatures over a bundle's exact bytes. A signed bundle is the unsigned bundle with one
/// last member added, `"signature"`; the signature covers every byte of the unsigned bundle
/// (spec, lock, ledger, provenance, archives and layout alike), so one byte changed anywhere
/// fails verification. Keys are written as `ed25519 BASE64 NAME`, one per line, like SSH's
/// authorized_keys: the trusted-keys file is a list of such lines.
public enum BundleSignature {
    public struct PublicKey: Sendable, Equatable, CustomStringConvertible {
        public var raw: Data
        public var name: String
        /// `ed25519 BASE64 NAME`.
        public var description: String { "ed25519 \(raw.base64EncodedString()) \(name)" }
        /// The first 16 hex digits of the key's SHA-256: what a person compares.
        public var fingerprint: String { String(CanonicalJSON.sha256(raw).prefix(16)) }

        public init(raw: Data, name: String) {
            self.raw = raw
            self.name = name
        }

        /// One `ed25519 BASE64 [NAME]` line; nil for anything else.
        public init?(line: String) {
            let words = line.split(separator: " ", maxSplits: 2, omittingEmptySubsequences: true).map(String.init)
            guard words.count >= 2, words[0] == "ed25519", let raw = Data(base64Encoded: words[1]), raw.count == 32 else { return nil }
            self.init(raw: raw, name: words.count == 3 ? words[2].trimmingCharacters(in: .whitespaces) : "")
        }
    }

    public struct PrivateKey: Sendable {
        public var raw: Data
        public var name: String
        public var publicKey: PublicKey {
            PublicKey(raw: (try? Curve25519.Signing.PrivateKey(rawRepresentation: raw).publicKey.rawRepresentation) ?? Data(), name: name)
        }

        public static func generate(name: String) -> PrivateKey {
            PrivateKey(raw: Curve25519.Signing.PrivateKey().rawRepresentation, name: name)
        }

        public init(raw: Data, name: String) {
            self.raw = raw
            self.name = name
        }

        /// The key file's text: `ed25519-private BASE64 NAME`.
        public var fileText: String { "ed25519-private \(raw.base64EncodedString()) \(name)\n" }

        public init?(fileText: String) {
            let words = fileText.trimmingCharacters(in: .whitespacesAndNewlines).split(separator: " ", maxSplits: 2).map(String.init)
            guard words.count >= 2, words[0] == "ed25519-private", let raw = Data(base64Encoded: words[1]), raw.count == 32,
                  (try? Curve25519.Signing.PrivateKey(rawRepresentation: raw)) != nil else { return nil }
            self.init(raw: raw, name: words.count == 3 ? words[2] : "")
        }
    }

    /// What a signed bundle says of itself.
    public struct Signature: Sendable, Equatable {
        public var key: PublicKey
        public var value: Data
    }

    public enum Failure: Error, Sendable, Equatable, CustomStringConvertible {
        case malformed(String)
        case badSignature(fingerprint: String)
        case trustFile(String)
        public var description: String {
            switch self {
            case let .malformed(why): return "the bundle's signature is malformed: \(why)"
            case let .badSignature(fingerprint): return "the bundle's signature by key \(fingerprint) does not match its content: it was changed after it was signed"
            case let .trustFile(why): return why
            }
        }
    }

    static let marker = Data(",\n  \"signature\": ".utf8)
    static let closing = Data("\n}\n".utf8)

    /// `bundle` (an unsigned bundle's bytes, ending in "\n}\n") with its signature appended.
    public static func sign(_ bundle: Data, with key: PrivateKey) throws -> Data {
        guard bundle.count >= closing.count, bundle.suffix(closing.count) == closing else { throw Failure.malformed("the bundle does not end as devstack writes it") }
        let signingKey = try Curve25519.Signing.PrivateKey(rawRepresentation: key.raw)
        let value = try signingKey.signature(for: bundle)
        // No name: nothing in the member goes unsigned. Who a key is comes from trusted-keys.
        let member = "{\"algorithm\": \"ed25519\", \"key\": \"\(key.publicKey.raw.base64EncodedString())\", \"value\": \"\(value.base64EncodedString())\"}"
        return bundle.prefix(bundle.count - closing.count) + marker + Data(member.utf8) + closing
    }

    /// Splits a file into the unsigned bundle's bytes and its signature (nil when unsigned),
    /// checking the signature against those bytes. Only a signature devstack would write is
    /// recognised: anything else after the marker is malformed.
    public static func unseal(_ file: Data) throws -> (bundle: Data, signature: Signature?) {
        guard let range = file.lastRange(of: marker) else { return (file, nil) }
        let tail = file[range.upperBound...]
        guard tail.suffix(closing.count) == closing else { throw Failure.malformed("it is not the bundle's last member") }
        let memberBytes = tail.prefix(tail.count - closing.count)
        guard let object = try? JSONSerialization.jsonObject(with: Data(memberBytes)) as? [String: String],
              object["algorithm"] == "ed25519", let keyText = object["key"], let raw = Data(base64Encoded: keyText), raw.count == 32,
              let valueText = object["value"], let value = Data(base64Encoded: valueText), Set(object.keys) == ["algorithm", "key", "value"],
              // Only the one spelling devstack writes: base64 has spare bits a forger could flip unseen.
              raw.base64EncodedString() == keyText, value.base64EncodedString() == valueText,
              Data(memberBytes) == Data("{\"algorithm\": \"ed25519\", \"key\": \"\(keyText)\", \"value\": \"\(valueText)\"}".utf8) else {
            throw Failure.malformed("expected {\"algorithm\": \"ed25519\", \"key\", \"value\"} as devstack writes it")
        }
        let bundle = file.prefix(upTo: range.lowerBound) + closing
        let signature = Signature(key: PublicKey(raw: raw, name: ""), value: value)
        guard let publicKey = try? Curve25519.Signing.PublicKey(rawRepresentation: raw), publicKey.isValidSignature(value, for: bundle) else {
            throw Failure.badSignature(fingerprint: signature.key.fingerprint)
        }
        return (bundle, signature)
    }

    /// The keys of a trusted-keys file: `ed25519 BASE64 NAME` lines; `#` comments and blank
    /// lines are skipped; any other line is an error naming its number.
    public static func trustedKeys(_ text: String, file: String) throws -> [PublicKey] {
        var keys: [PublicKey] = []
        for (index, line) in text.split(separator: "\n", omittingEmptySubsequences: false).enumerated() {
            let trimmed = line.trimmingCharacters(in: .whitespaces)
            if trimmed.isEmpty || trimmed.hasPrefix("#") { continue }
            guard let key = PublicKey(line: trimmed) else {
                throw Failure.trustFile("\(file):\(index + 1): expected a key as \"ed25519 BASE64 NAME\" (devstack key generate prints one)")
            }
            keys.append(key)
        }
        return keys
    }
}
