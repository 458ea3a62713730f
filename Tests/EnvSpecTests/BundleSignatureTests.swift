import Foundation
import Testing
@testable import EnvSpec

@Suite struct BundleSignatureTests {
    static let bundle = Data("""
    {
      "format": "devstack-bundle",
      "provenanceHash": "0123",
      "revision": {"author": "ada", "message": "seeded"},
      "spec": {"name": "x", "services": {}}
    }

    """.utf8)

    @Test func aSignedBundleOpensToTheExactUnsignedBytes() throws {
        let key = BundleSignature.PrivateKey.generate(name: "ada")
        let signed = try BundleSignature.sign(Self.bundle, with: key)
        let (bytes, signature) = try BundleSignature.unseal(signed)
        #expect(bytes == Self.bundle)
        #expect(signature?.key.raw == key.publicKey.raw)
        #expect(signature?.key.name == "", "a name is not signed, so none is carried: trusted-keys names keys")
        // An unsigned bundle opens as it is.
        let (plain, none) = try BundleSignature.unseal(Self.bundle)
        #expect(plain == Self.bundle)
        #expect(none == nil)
        // Keys read back from their lines and files.
        #expect(BundleSignature.PublicKey(line: key.publicKey.description) == key.publicKey)
        #expect(BundleSignature.PrivateKey(fileText: key.fileText)?.publicKey == key.publicKey)
        #expect(BundleSignature.PublicKey(line: "ssh-ed25519 AAAA ada") == nil)
    }

    /// Every single byte of a signed bundle, flipped: the result never opens as the same signer's
    /// valid signature. Either it fails, or it no longer carries a signature (which a trusted-keys
    /// file refuses).
    @Test func oneByteChangedAnywhereIsRefused() throws {
        let key = BundleSignature.PrivateKey.generate(name: "ada")
        let signed = try BundleSignature.sign(Self.bundle, with: key)
        var accepted: [Int] = []
        for index in signed.indices {
            var changed = signed
            changed[index] ^= 0x01
            if let (_, signature) = try? BundleSignature.unseal(changed), signature?.key.raw == key.publicKey.raw { accepted.append(index) }
        }
        #expect(accepted == [], "flipped bytes that still verified: \(accepted)")
    }

    @Test func aSignatureByAnotherKeyOrOverOtherBytesFails() throws {
        let ada = BundleSignature.PrivateKey.generate(name: "ada"), eve = BundleSignature.PrivateKey.generate(name: "eve")
        let signed = try BundleSignature.sign(Self.bundle, with: ada)
        // eve swaps in her own key but keeps ada's signature value: it does not verify.
        let forged = String(decoding: signed, as: UTF8.self).replacingOccurrences(of: ada.publicKey.raw.base64EncodedString(), with: eve.publicKey.raw.base64EncodedString())
        #expect(throws: BundleSignature.Failure.badSignature(fingerprint: eve.publicKey.fingerprint)) { try BundleSignature.unseal(Data(forged.utf8)) }
        #expect(throws: BundleSignature.Failure.self) { try BundleSignature.unseal(signed + Data("x".utf8)) }
    }

    @Test func trustedKeysFilesAreLinesOfKeys() throws {
        let key = BundleSignature.PrivateKey.generate(name: "ada").publicKey
        #expect(try BundleSignature.trustedKeys("# team keys\n\n\(key.description)\n", file: "trusted-keys") == [key])
        #expect(throws: BundleSignature.Failure.trustFile("trusted-keys:2: expected a key as \"ed25519 BASE64 NAME\" (devstack key generate prints one)")) {
            try BundleSignature.trustedKeys("\(key.description)\nnot a key\n", file: "trusted-keys")
        }
    }
}
