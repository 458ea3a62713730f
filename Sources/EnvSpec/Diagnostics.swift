import Foundation

/// One problem with an environment file, phrased so that a user can act on it:
/// `env.json: services.lms.dependsOn.mysq: no service named "mysq" (did you mean "mysql"?)`.
public struct Diagnostic: Sendable, Equatable, CustomStringConvertible {
    public var file: String
    /// JSON path such as `services.lms.ports[0]`; empty for the document itself.
    public var path: String
    public var message: String
    /// Set for syntax errors, where a path does not exist yet.
    public var line: Int?
    public var column: Int?

    public init(file: String, path: String, message: String, line: Int? = nil, column: Int? = nil) {
        self.file = file
        self.path = path
        self.message = message
        self.line = line
        self.column = column
    }

    public var description: String {
        if let line, let column { return path.isEmpty ? "\(file):\(line):\(column): \(message)" : "\(file):\(line):\(column): \(path): \(message)" }
        if path.isEmpty { return "\(file): \(message)" }
        return "\(file): \(path): \(message)"
    }
}

/// The environment could not be loaded; nothing should be stored.
public struct ValidationFailure: Error, Sendable, CustomStringConvertible {
    public var diagnostics: [Diagnostic]
    public init(_ diagnostics: [Diagnostic]) { self.diagnostics = diagnostics }
    public var description: String { diagnostics.map(\.description).joined(separator: "\n") }
}

public enum Suggest {
    /// The closest candidate within a small edit distance, for "did you mean …?".
    static func closest(to word: String, in candidates: some Sequence<String>) -> String? {
        var best: (String, Int)?
        for candidate in candidates {
            let d = distance(word.lowercased(), candidate.lowercased())
            let limit = max(1, min(3, candidate.count / 3 + 1))
            if d <= limit, best == nil || d < best!.1 { best = (candidate, d) }
        }
        return best?.0
    }

    public static func didYouMean(_ word: String, in candidates: some Sequence<String>) -> String {
        if let s = closest(to: word, in: candidates) { return " (did you mean \"\(s)\"?)" }
        return ""
    }

    static func distance(_ a: String, _ b: String) -> Int {
        let a = Array(a), b = Array(b)
        if a.isEmpty { return b.count }
        if b.isEmpty { return a.count }
        var previous = Array(0...b.count)
        var current = [Int](repeating: 0, count: b.count + 1)
        for i in 1...a.count {
            current[0] = i
            for j in 1...b.count {
                let cost = a[i - 1] == b[j - 1] ? 0 : 1
                current[j] = min(previous[j] + 1, current[j - 1] + 1, previous[j - 1] + cost)
            }
            swap(&previous, &current)
        }
        return previous[b.count]
    }
}

/// Names that become parts of Docker object names: lower-case letters, digits, `-` and `_`.
public enum Names {
    public static func isValid(_ name: String) -> Bool {
        guard let first = name.utf8.first, name.utf8.count <= 63 else { return false }
        func ok(_ c: UInt8) -> Bool { (c >= 0x61 && c <= 0x7a) || (c >= 0x30 && c <= 0x39) }
        guard ok(first) else { return false }
        return name.utf8.allSatisfy { ok($0) || $0 == UInt8(ascii: "-") || $0 == UInt8(ascii: "_") }
    }

    public static let ruleText = "use 1 to 63 lower-case letters, digits, '-' or '_', starting with a letter or digit"
}

/// A file that could not be read, and why, in words a user can act on.
public struct FileReadError: Error, CustomStringConvertible, Sendable {
    public var reason: String
    public init(reason: String) { self.reason = reason }
    public var description: String { reason }

    /// The reason of a read error: this type's own, or the words for a system error.
    public static func reason(_ error: Error) -> String {
        if let read = error as? FileReadError { return read.reason }
        let ns = error as NSError
        if let underlying = ns.userInfo[NSUnderlyingErrorKey] as? NSError, underlying.domain == NSPOSIXErrorDomain {
            return String(cString: strerror(Int32(underlying.code))).lowercased()
        }
        switch ns.code {
        case NSFileReadNoSuchFileError: return "no such file"
        case NSFileReadNoPermissionError: return "permission denied"
        case NSFileReadInapplicableStringEncodingError: return "not UTF-8 text"
        default: return "unreadable"
        }
    }
}
