import Foundation

/// The rules of a build context's `.dockerignore`, as the docker CLI reads them: one pattern
/// per line, `#` comments, `!` for an exception, Go's path.Match syntax plus `**` for any
/// number of folders, and the last matching line wins. A file is excluded when it or one of
/// its parent folders matches. The Dockerfile and the `.dockerignore` itself are always sent.
public struct DockerIgnore: Sendable, Equatable {
    struct Pattern: Sendable, Equatable {
        var glob: [UInt8]
        var exception: Bool
    }

    let patterns: [Pattern]
    /// Paths always included whatever the patterns say.
    let kept: Set<String>

    /// No rules: everything is sent.
    public static let none = DockerIgnore(patterns: [], kept: [])

    public init(text: String, keep: [String] = []) {
        var patterns: [Pattern] = []
        for rawLine in text.split(omittingEmptySubsequences: false, whereSeparator: { $0 == "\n" || $0 == "\r" }) {
            var line = rawLine.trimmingCharacters(in: .whitespaces)
            if line.isEmpty || line.hasPrefix("#") { continue }
            var exception = false
            if line.hasPrefix("!") {
                exception = true
                line = String(line.dropFirst()).trimmingCharacters(in: .whitespaces)
            }
            let cleaned = Self.clean(line)
            if cleaned.isEmpty { continue }
            patterns.append(Pattern(glob: Array(cleaned.utf8), exception: exception))
        }
        self.init(patterns: patterns, kept: Set(keep.map(Self.clean)))
    }

    init(patterns: [Pattern], kept: Set<String>) {
        self.patterns = patterns
        self.kept = kept
    }

    /// Whether an exception could bring back something inside an excluded folder, in which
    /// case the folder must still be walked.
    public var hasExceptions: Bool { patterns.contains(where: \.exception) }

    /// Whether a folder left out must still be walked: an exception might bring back something
    /// inside it, or it holds a file that is always sent.
    public func mustDescend(into folder: String) -> Bool {
        hasExceptions || kept.contains { $0.hasPrefix(folder + "/") }
    }

    /// Whether `path` (relative to the context, "/"-separated) is left out of the context.
    public func excludes(_ path: String) -> Bool {
        if patterns.isEmpty || kept.contains(path) { return false }
        let bytes = Array(path.utf8)
        // The path itself and each of its parent folders, shortest first.
        var candidates: [ArraySlice<UInt8>] = []
        for (index, byte) in bytes.enumerated() where byte == UInt8(ascii: "/") { candidates.append(bytes[..<index]) }
        candidates.append(bytes[...])
        var excluded = false
        for pattern in patterns where candidates.contains(where: { Self.match(pattern.glob[...], $0) }) {
            excluded = !pattern.exception
        }
        return excluded
    }

    /// filepath.Clean for "/"-separated relative patterns: no leading "/", no "." or empty
    /// parts, ".." folded where it can be.
    static func clean(_ text: String) -> String {
        var parts: [Substring] = []
        for part in text.split(separator: "/", omittingEmptySubsequences: true) {
            if part == "." { continue }
            if part == "..", let last = parts.last, last != ".." { parts.removeLast(); continue }
            parts.append(part)
        }
        return parts.joined(separator: "/")
    }

    /// Glob matching over bytes: `*` any run within one path part, `?` one byte of a part,
    /// `[…]` a class (`^` or `!` negates, ranges with `-`), `\` escapes, `**` any run across
    /// parts (and `**/` may match nothing at all).
    static func match(_ pattern: ArraySlice<UInt8>, _ name: ArraySlice<UInt8>) -> Bool {
        let slash = UInt8(ascii: "/")
        var p = pattern.startIndex
        var n = name.startIndex
        while p < pattern.endIndex {
            let c = pattern[p]
            switch c {
            case UInt8(ascii: "*"):
                let doubled = p + 1 < pattern.endIndex && pattern[p + 1] == UInt8(ascii: "*")
                if doubled {
                    var rest = p + 2
                    // "**/" also matches no folder at all.
                    if rest < pattern.endIndex && pattern[rest] == slash {
                        rest += 1
                        if match(pattern[rest...], name[n...]) { return true }
                    }
                    var i = n
                    while i <= name.endIndex {
                        if match(pattern[rest...], name[i...]) { return true }
                        i += 1
                    }
                    return false
                }
                var i = n
                while true {
                    if match(pattern[(p + 1)...], name[i...]) { return true }
                    if i == name.endIndex || name[i] == slash { return false }
                    i += 1
                }
            case UInt8(ascii: "?"):
                guard n < name.endIndex, name[n] != slash else { return false }
                p += 1
                n += 1
            case UInt8(ascii: "["):
                guard n < name.endIndex, name[n] != slash, let (matched, next) = matchClass(pattern, from: p, byte: name[n]), matched else { return false }
                p = next
                n += 1
            case UInt8(ascii: "\\") where p + 1 < pattern.endIndex:
                guard n < name.endIndex, name[n] == pattern[p + 1] else { return false }
                p += 2
                n += 1
            default:
                guard n < name.endIndex, name[n] == c else { return false }
                p += 1
                n += 1
            }
        }
        return n == name.endIndex
    }

    /// A `[…]` class at `start`: whether `byte` is in it, and where the pattern goes on. Nil
    /// for a class without its closing bracket (which then matches nothing).
    static func matchClass(_ pattern: ArraySlice<UInt8>, from start: Int, byte: UInt8) -> (Bool, Int)? {
        var i = start + 1
        var negated = false
        if i < pattern.endIndex && (pattern[i] == UInt8(ascii: "^") || pattern[i] == UInt8(ascii: "!")) {
            negated = true
            i += 1
        }
        var matched = false
        var first = true
        while i < pattern.endIndex {
            var low = pattern[i]
            if low == UInt8(ascii: "]") && !first { return (matched != negated, i + 1) }
            first = false
            if low == UInt8(ascii: "\\") && i + 1 < pattern.endIndex {
                i += 1
                low = pattern[i]
            }
            var high = low
            if i + 2 < pattern.endIndex && pattern[i + 1] == UInt8(ascii: "-") && pattern[i + 2] != UInt8(ascii: "]") {
                high = pattern[i + 2]
                i += 2
            }
            if low <= byte && byte <= high { matched = true }
            i += 1
        }
        return nil
    }
}
