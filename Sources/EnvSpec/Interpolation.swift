/// `${VAR}`, `${VAR:-default}` (default when unset or empty), `${VAR-default}` (default when unset)
/// and `$$` for a literal dollar sign.
public enum Interpolation {
    public enum Failure: Error, Equatable {
        case undefined(String)
        case unterminated
        case badName(String)
    }

    public static func expand(_ text: String, lookup: (String) -> String?) -> Result<String, Failure> {
        guard text.contains("$") else { return .success(text) }
        var out = ""
        var i = text.startIndex
        while i < text.endIndex {
            let c = text[i]
            guard c == "$" else { out.append(c); i = text.index(after: i); continue }
            let next = text.index(after: i)
            if next < text.endIndex, text[next] == "$" { out.append("$"); i = text.index(after: next); continue }
            guard next < text.endIndex, text[next] == "{" else { out.append("$"); i = next; continue }
            guard let close = text[next...].firstIndex(of: "}") else { return .failure(.unterminated) }
            let body = String(text[text.index(after: next)..<close])
            var name = body
            var fallback: String?
            var emptyCountsAsUnset = false
            if let r = body.range(of: ":-") {
                name = String(body[..<r.lowerBound]); fallback = String(body[r.upperBound...]); emptyCountsAsUnset = true
            } else if let r = body.range(of: "-") {
                name = String(body[..<r.lowerBound]); fallback = String(body[r.upperBound...])
            }
            guard isValidName(name) else { return .failure(.badName(name)) }
            let value = lookup(name)
            if let value, !(emptyCountsAsUnset && value.isEmpty) {
                out += value
            } else if let fallback {
                out += fallback
            } else {
                return .failure(.undefined(name))
            }
            i = text.index(after: close)
        }
        return .success(out)
    }

    static func isValidName(_ name: String) -> Bool {
        guard let first = name.unicodeScalars.first, first == "_" || first.properties.isAlphabetic, first.isASCII else { return false }
        return name.unicodeScalars.allSatisfy { $0.isASCII && ($0 == "_" || $0.properties.isAlphabetic || ("0"..."9").contains($0)) }
    }
}
