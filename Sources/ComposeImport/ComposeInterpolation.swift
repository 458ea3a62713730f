/// Compose's variable substitution, as compose-go does it: `$VAR`, `${VAR}`, `${VAR:-default}`,
/// `${VAR-default}`, `${VAR:?message}`, `${VAR?message}`, `${VAR:+other}`, `${VAR+other}`, nested
/// in defaults, and `$$` for a literal dollar sign. An unset variable becomes an empty string
/// and is reported; `?` forms fail with their message.
enum ComposeInterpolation {
    struct Failure: Error, Equatable {
        var message: String
    }

    /// `lookup` answers a variable's value (nil when unset); `unset` hears of each variable
    /// that was used bare and is not set.
    static func expand(_ text: String, lookup: (String) -> String?, unset: (String) -> Void) throws(Failure) -> String {
        guard text.contains("$") else { return text }
        var scanner = Scanner(chars: Array(text), index: 0)
        return try scanner.expand(until: nil, lookup: lookup, unset: unset)
    }

    struct Scanner {
        var chars: [Character]
        var index: Int

        static func isNameStart(_ c: Character) -> Bool { c == "_" || (c.isASCII && c.isLetter) }
        static func isName(_ c: Character) -> Bool { isNameStart(c) || (c.isASCII && c.isNumber) }

        /// Expands up to `terminator` (a closing brace of an enclosing `${…}`) or the end.
        mutating func expand(until terminator: Character?, lookup: (String) -> String?, unset: (String) -> Void) throws(Failure) -> String {
            var out = ""
            while index < chars.count {
                let c = chars[index]
                if let terminator, c == terminator { return out }
                guard c == "$", index + 1 < chars.count else { out.append(c); index += 1; continue }
                let next = chars[index + 1]
                if next == "$" { out.append("$"); index += 2; continue }
                if Self.isNameStart(next) {
                    index += 1
                    let name = readName()
                    if let value = lookup(name) { out += value } else { unset(name) }
                    continue
                }
                if next == "{" {
                    index += 2
                    out += try braced(lookup: lookup, unset: unset)
                    continue
                }
                out.append(c)
                index += 1
            }
            if terminator != nil { throw Failure(message: "invalid interpolation format: a \"${\" has no closing \"}\"") }
            return out
        }

        mutating func readName() -> String {
            let start = index
            while index < chars.count, Self.isName(chars[index]) { index += 1 }
            return String(chars[start..<index])
        }

        /// After `${`: NAME, then `}` or an operator and a word up to the matching `}`.
        mutating func braced(lookup: (String) -> String?, unset: (String) -> Void) throws(Failure) -> String {
            guard index < chars.count, Self.isNameStart(chars[index]) else {
                throw Failure(message: "invalid interpolation format: \"${\" must be followed by a variable name")
            }
            let name = readName()
            guard index < chars.count else { throw Failure(message: "invalid interpolation format: \"${\(name)\" has no closing \"}\"") }
            if chars[index] == "}" {
                index += 1
                if let value = lookup(name) { return value }
                unset(name)
                return ""
            }
            var op = String(chars[index])
            if op == ":" {
                guard index + 1 < chars.count else { throw Failure(message: "invalid interpolation format in \"${\(name):\"") }
                op += String(chars[index + 1])
            }
            guard ["-", "?", "+", ":-", ":?", ":+"].contains(op) else {
                throw Failure(message: "invalid interpolation format: unexpected \"\(op)\" after \"${\(name)\"")
            }
            index += op.count
            let value = lookup(name)
            let isSet = value != nil
            let isNonEmpty = !(value ?? "").isEmpty
            let strict = op.hasPrefix(":")
            // The word is expanded only when it is used, as in a shell.
            let wordStart = index
            var skip = Scanner(chars: chars, index: index)
            _ = try skip.expand(until: "}", lookup: { _ in "" }, unset: { _ in })
            let wordEnd = skip.index
            func word() throws(Failure) -> String {
                var inner = Scanner(chars: Array(chars[wordStart..<wordEnd]), index: 0)
                return try inner.expand(until: nil, lookup: lookup, unset: unset)
            }
            index = wordEnd + 1
            switch op.last! {
            case "-": return (strict ? isNonEmpty : isSet) ? value! : try word()
            case "+": return (strict ? isNonEmpty : isSet) ? try word() : ""
            default:
                if strict ? isNonEmpty : isSet { return value! }
                let message = try word()
                throw Failure(message: "required variable \(name) is missing a value" + (message.isEmpty ? "" : ": \(message)"))
            }
        }
    }
}

/// `.env` and `env_file` files as compose-go reads them: `KEY=value`, `export KEY=value`,
/// `KEY: value`; comments; single quotes literal; double quotes with escapes and variables;
/// unquoted values trimmed, with ` #` starting a comment and variables expanded. A line with a
/// key alone takes the value from the environment, if it has one.
enum DotEnv {
    struct Failure: Error, Equatable {
        var line: Int
        var message: String
    }

    static func parse(_ text: String, lookup: (String) -> String?) throws(Failure) -> [(key: String, value: String)] {
        var out: [(key: String, value: String)] = []
        var known: [String: String] = [:]
        let lines = text.replacingOccurrences(of: "\r\n", with: "\n").split(separator: "\n", omittingEmptySubsequences: false).map(String.init)
        var i = 0
        func resolve(_ name: String) -> String? { known[name] ?? lookup(name) }
        while i < lines.count {
            let lineNumber = i + 1
            var line = lines[i].drop { $0 == " " || $0 == "\t" }
            i += 1
            if line.isEmpty || line.hasPrefix("#") { continue }
            if line.hasPrefix("export ") { line = line.dropFirst(7).drop { $0 == " " } }
            let separator = line.firstIndex { $0 == "=" || $0 == ":" }
            guard let separator else {
                let key = line.trimmingCharacters(in: .whitespaces)
                guard isKey(key) else { throw Failure(line: lineNumber, message: "unexpected character in \"\(key)\": expected KEY=VALUE") }
                if let value = lookup(key) { out.append((key, value)); known[key] = value }
                continue
            }
            let key = line[..<separator].trimmingCharacters(in: .whitespaces)
            guard isKey(key) else { throw Failure(line: lineNumber, message: "invalid variable name \"\(key)\": expected KEY=VALUE") }
            var rest = String(line[line.index(after: separator)...])
            if line[separator] == ":" { guard rest.hasPrefix(" ") || rest.isEmpty else { throw Failure(line: lineNumber, message: "expected \"=\" after \(key)") } }
            rest = String(rest.drop { $0 == " " || $0 == "\t" })
            var value: String
            if let quote = rest.first, quote == "'" || quote == "\"" {
                // A quoted value may span lines until its closing quote.
                var body = String(rest.dropFirst())
                var closing = closingQuote(body, quote)
                while closing == nil, i < lines.count {
                    body += "\n" + lines[i]
                    i += 1
                    closing = closingQuote(body, quote)
                }
                guard let closing else { throw Failure(line: lineNumber, message: "unterminated quoted value for \(key)") }
                let raw = String(body[..<closing])
                if quote == "'" {
                    value = raw
                } else {
                    do { value = try ComposeInterpolation.expand(unescape(raw), lookup: resolve, unset: { _ in }) } catch {
                        throw Failure(line: lineNumber, message: error.message)
                    }
                }
            } else {
                if let hash = rest.range(of: " #") ?? rest.range(of: "\t#") { rest = String(rest[..<hash.lowerBound]) }
                if rest.hasPrefix("#") { rest = "" }
                do { value = try ComposeInterpolation.expand(rest.trimmingCharacters(in: .whitespaces), lookup: resolve, unset: { _ in }) } catch {
                    throw Failure(line: lineNumber, message: error.message)
                }
            }
            out.append((key, value))
            known[key] = value
        }
        return out
    }

    static func isKey(_ key: String) -> Bool {
        guard let first = key.first, first == "_" || (first.isASCII && first.isLetter) else { return false }
        return key.allSatisfy { $0 == "_" || $0 == "." || $0 == "-" || ($0.isASCII && ($0.isLetter || $0.isNumber)) }
    }

    static func closingQuote(_ body: String, _ quote: Character) -> String.Index? {
        var escaped = false
        for index in body.indices {
            let c = body[index]
            if escaped { escaped = false; continue }
            if c == "\\" && quote == "\"" { escaped = true; continue }
            if c == quote { return index }
        }
        return nil
    }

    static func unescape(_ raw: String) -> String {
        var out = ""
        var escaped = false
        for c in raw {
            if escaped {
                switch c {
                case "n": out.append("\n")
                case "t": out.append("\t")
                case "r": out.append("\r")
                case "\"", "\\": out.append(c)
                case "$": out += "$$"
                default: out.append("\\"); out.append(c)
                }
                escaped = false
            } else if c == "\\" {
                escaped = true
            } else {
                out.append(c)
            }
        }
        if escaped { out.append("\\") }
        return out
    }
}
