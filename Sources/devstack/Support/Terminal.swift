import Foundation

enum Terminal {
    static let stdoutIsTTY = isatty(STDOUT_FILENO) == 1
    static let stderrIsTTY = isatty(STDERR_FILENO) == 1
    static let colorEnabled = stdoutIsTTY && ProcessInfo.processInfo.environment["NO_COLOR"] == nil
        && ProcessInfo.processInfo.environment["TERM"] != "dumb"

    static func flush() { fflush(nil) }

    static func error(_ line: String) {
        FileHandle.standardError.write(Data("devstack: error: \(escape(line))\n".utf8))
    }

    /// A human note on standard error, so that standard output stays machine-readable.
    static func note(_ line: String) {
        FileHandle.standardError.write(Data("\(escape(line))\n".utf8))
    }

    static func warn(_ line: String) {
        FileHandle.standardError.write(Data("devstack: warning: \(escape(line))\n".utf8))
    }

    /// Control characters from user data (messages, names, engine output) are shown escaped, so
    /// that nothing written into a revision can move the cursor, change colours or forge a line.
    static func escape(_ text: String, keepNewlines: Bool = false) -> String {
        guard text.unicodeScalars.contains(where: { isControl($0) }) else { return text }
        var out = ""
        for scalar in text.unicodeScalars {
            if keepNewlines && (scalar == "\n" || scalar == "\t") { out.unicodeScalars.append(scalar); continue }
            switch scalar {
            case "\n": out += "\\n"
            case "\r": out += "\\r"
            case "\t": out += "\\t"
            case _ where isControl(scalar): out += "\\u{" + String(scalar.value, radix: 16) + "}"
            default: out.unicodeScalars.append(scalar)
            }
        }
        return out
    }

    static func isControl(_ scalar: Unicode.Scalar) -> Bool {
        scalar.value < 0x20 || (0x7F...0x9F).contains(scalar.value) || scalar.value == 0x2028 || scalar.value == 0x2029
    }

    static func paint(_ text: String, _ code: String) -> String {
        colorEnabled ? "\u{1B}[\(code)m\(text)\u{1B}[0m" : text
    }
    static func green(_ t: String) -> String { paint(t, "32") }
    static func red(_ t: String) -> String { paint(t, "31") }
    static func yellow(_ t: String) -> String { paint(t, "33") }
    static func bold(_ t: String) -> String { paint(t, "1") }
    static func dim(_ t: String) -> String { paint(t, "2") }

    /// Left-aligned columns, for tables such as `history` and `status`.
    static func table(_ header: [String], _ rows: [[String]]) -> String {
        let all = [header] + rows.map { $0.map { escape($0) } }
        var widths = Array(repeating: 0, count: header.count)
        // Unicode scalars, not grapheme clusters: much cheaper, and the same for the text we print.
        for row in all { for (i, cell) in row.enumerated() where i < widths.count { widths[i] = max(widths[i], cell.unicodeScalars.count) } }
        var out = ""
        out.reserveCapacity(all.count * (widths.reduce(0, +) + 2 * widths.count + 1))
        for row in all {
            var line = ""
            for (i, cell) in row.enumerated() {
                line += cell
                if i < row.count - 1 { line += String(repeating: " ", count: widths[i] - cell.unicodeScalars.count + 2) }
            }
            while line.last == " " { line.removeLast() }
            out += line
            out += "\n"
        }
        if !out.isEmpty { out.removeLast() }
        return out
    }
}
