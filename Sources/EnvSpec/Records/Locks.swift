import Foundation

/// One service's pinned image: the reference the spec names and the digest it resolved to.
public struct ImageLock: Sendable, Equatable, Codable {
    public var reference: String
    public var digest: String
    public init(reference: String, digest: String) {
        self.reference = reference
        self.digest = digest
    }

    /// "sha256:0123456789ab" of "repository@sha256:…"; a reference without a digest as it is.
    public static func short(_ digest: String) -> String {
        guard let at = digest.range(of: "@sha256:") else { return digest }
        return "sha256:" + digest[at.upperBound...].prefix(12)
    }
}
