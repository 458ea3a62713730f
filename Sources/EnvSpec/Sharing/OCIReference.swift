/// Where an artifact lives in an OCI registry: `registry.example:5000/team/lms-env:v3`, with
/// `@sha256:…` to pin it, written with or without `oci://` in front. The grammar is the one the
/// docker CLI and the distribution spec use (lower-case path components, a tag of at most 128
/// characters); a first component with a dot or a port, or `localhost`, names the registry, and
/// anything else is on Docker Hub.
public struct OCIReference: Sendable, Equatable, Hashable, CustomStringConvertible {
    /// `host[:port]` as written; `docker.io` for Docker Hub.
    public var registry: String
    public var repository: String
    public var tag: String?
    /// `sha256:` and 64 lower-case hexadecimal digits.
    public var digest: String?

    public static let scheme = "oci://"

    public init(registry: String, repository: String, tag: String? = nil, digest: String? = nil) {
        self.registry = registry
        self.repository = repository
        self.tag = tag
        self.digest = digest
    }

    public struct ParseError: Error, CustomStringConvertible, Sendable, Equatable {
        public var reference: String
        public var reason: String
        public var description: String { "\"\(reference)\" is not a registry reference: \(reason) (expected HOST[:PORT]/PATH[:TAG][@sha256:DIGEST])" }
    }

    public static func parse(_ written: String) throws(ParseError) -> OCIReference {
        func fail(_ reason: String) -> ParseError { ParseError(reference: written, reason: reason) }
        var text = Substring(written)
        if text.hasPrefix(scheme) { text = text.dropFirst(scheme.count) }
        guard !text.isEmpty else { throw fail("it is empty") }
        guard text.count <= 1024, text.unicodeScalars.allSatisfy({ $0.value > 0x20 && $0.value < 0x7f }) else {
            throw fail("it has spaces, control or non-ASCII characters, or is over 1024 characters")
        }
        var digest: String?
        if let at = text.firstIndex(of: "@") {
            let written = String(text[text.index(after: at)...])
            guard written.hasPrefix("sha256:"), written.count == 71, written.dropFirst(7).allSatisfy({ $0.isHexDigit && !$0.isUppercase }) else {
                throw fail("the digest must be sha256: and 64 lower-case hexadecimal digits")
            }
            digest = written
            text = text[..<at]
        }
        var components = text.split(separator: "/", omittingEmptySubsequences: false).map(String.init)
        var tag: String?
        if let last = components.last, let colon = last.lastIndex(of: ":") {
            let written = String(last[last.index(after: colon)...])
            guard isTag(written) else { throw fail("the tag \"\(written)\" is not 1 to 128 letters, digits, '_', '.' or '-' (not starting with '.' or '-')") }
            tag = written
            components[components.count - 1] = String(last[..<colon])
        }
        var registry = "docker.io"
        if components.count > 1, components[0].contains(".") || components[0].contains(":") || components[0] == "localhost" {
            registry = components.removeFirst()
            guard isHost(registry) else { throw fail("the registry \"\(registry)\" is not HOST or HOST:PORT") }
        } else if components.count == 1 {
            components.insert("library", at: 0)
        }
        for component in components where !isPathComponent(component) {
            throw fail(component.isEmpty ? "it has an empty path component" : "the path component \"\(component)\" is not lower-case letters and digits joined by '.', '_', '__' or '-'")
        }
        let repository = components.joined(separator: "/")
        guard repository.count <= 255 else { throw fail("the repository path is over 255 characters") }
        return OCIReference(registry: registry, repository: repository, tag: tag, digest: digest)
    }

    /// Whether a written value is meant as a registry reference rather than a file.
    public static func isWritten(_ text: String) -> Bool { text.hasPrefix(scheme) }

    /// What the manifest is asked for by: the digest when pinned, else the tag, else `latest`.
    public var manifestReference: String { digest ?? tag ?? "latest" }

    /// The host the API answers on: Docker Hub's registry is not at docker.io itself.
    public var apiHost: String { registry == "docker.io" ? "registry-1.docker.io" : registry }

    /// The host without its port, for the loopback rule.
    public var hostName: String {
        if registry.hasPrefix("["), let close = registry.firstIndex(of: "]") { return String(registry[registry.index(after: registry.startIndex)..<close]) }
        return String(registry.split(separator: ":").first ?? Substring(registry))
    }

    /// A registry on this machine: plain HTTP may be allowed for it.
    public var isLoopback: Bool {
        let host = hostName.lowercased()
        return host == "localhost" || host == "::1" || host.hasPrefix("127.")
    }

    public func with(digest: String) -> OCIReference { OCIReference(registry: registry, repository: repository, tag: tag, digest: digest) }

    public var description: String {
        "\(registry)/\(repository)\(tag.map { ":\($0)" } ?? "")\(digest.map { "@\($0)" } ?? "")"
    }

    static func isTag(_ s: String) -> Bool {
        guard let first = s.first, s.count <= 128, first != ".", first != "-" else { return false }
        return s.allSatisfy { $0.isASCII && ($0.isLetter || $0.isNumber || $0 == "_" || $0 == "." || $0 == "-") }
    }

    static func isHost(_ s: String) -> Bool {
        var host = Substring(s)
        var port: Substring?
        if host.hasPrefix("[") {
            guard let close = host.firstIndex(of: "]") else { return false }
            let rest = host[host.index(after: close)...]
            if !rest.isEmpty {
                guard rest.hasPrefix(":") else { return false }
                port = rest.dropFirst()
            }
            host = host[host.index(after: host.startIndex)..<close]
            guard !host.isEmpty, host.allSatisfy({ $0.isHexDigit || $0 == ":" || $0 == "." }) else { return false }
        } else {
            let parts = host.split(separator: ":", omittingEmptySubsequences: false)
            guard parts.count <= 2 else { return false }
            if parts.count == 2 { port = parts[1] }
            host = parts[0]
            let labels = host.split(separator: ".", omittingEmptySubsequences: false)
            guard !host.isEmpty, labels.allSatisfy({ label in
                !label.isEmpty && label.count <= 63 && label.first != "-" && label.last != "-"
                    && label.allSatisfy { $0.isASCII && ($0.isLetter || $0.isNumber || $0 == "-") }
            }) else { return false }
        }
        if let port {
            guard !port.isEmpty, port.count <= 5, port.allSatisfy(\.isNumber), let number = Int(port), (1...65535).contains(number) else { return false }
        }
        return true
    }

    static func isPathComponent(_ s: String) -> Bool {
        // [a-z0-9]+ ((\.|_|__|-+) [a-z0-9]+)*
        let chars = Array(s)
        guard let first = chars.first, let last = chars.last, isAlnum(first), isAlnum(last) else { return false }
        var i = 0
        while i < chars.count {
            if isAlnum(chars[i]) { i += 1; continue }
            var j = i
            while j < chars.count, !isAlnum(chars[j]) { j += 1 }
            let separator = String(chars[i..<j])
            guard separator == "." || separator == "_" || separator == "__" || separator.allSatisfy({ $0 == "-" }) else { return false }
            i = j
        }
        return true
    }

    static func isAlnum(_ c: Character) -> Bool { c.isASCII && (c.isLowercase || c.isNumber) }
}
