import Foundation

enum Terminal {
    static let stdoutIsTTY = isatty(STDOUT_FILENO) == 1
    static let colorEnabled = stdoutIsTTY && ProcessInfo.processInfo.environment["NO_COLOR"] == nil
        && ProcessInfo.processInfo.environment["TERM"] != "dumb"

    static func flush() { fflush(nil) }

    static func error(_ line: String) {
        FileHandle.standardError.write(Data("devstack: error: \(line)\n".utf8))
    }

    static func warn(_ line: String) {
        FileHandle.standardError.write(Data("devstack: warning: \(line)\n".utf8))
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
        let all = [header] + rows
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
