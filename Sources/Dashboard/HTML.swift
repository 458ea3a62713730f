import Foundation

/// Server-side HTML: every value from the store, the engine or a request goes through `escape`,
/// so nothing recorded can inject markup or script into the page.
enum HTML {
    static func escape(_ text: String) -> String {
        var out = ""
        out.reserveCapacity(text.utf8.count)
        for scalar in text.unicodeScalars {
            switch scalar {
            case "&": out += "&amp;"
            case "<": out += "&lt;"
            case ">": out += "&gt;"
            case "\"": out += "&quot;"
            case "'": out += "&#39;"
            case _ where scalar.value < 0x20 && scalar != "\n" && scalar != "\t": out += "\\u{\(String(scalar.value, radix: 16))}"
            default: out.unicodeScalars.append(scalar)
            }
        }
        return out
    }

    /// A query value or path segment.
    static func component(_ text: String) -> String {
        var allowed = CharacterSet.alphanumerics
        allowed.insert(charactersIn: "-._~")
        return text.addingPercentEncoding(withAllowedCharacters: allowed) ?? ""
    }

    /// A table: `cells` are already escaped HTML.
    static func table(_ header: [String], _ rows: [[String]], id: String? = nil) -> String {
        var out = "<table\(id.map { " id=\"\($0)\"" } ?? "")><thead><tr>"
        for h in header { out += "<th>\(escape(h))</th>" }
        out += "</tr></thead><tbody>"
        for row in rows {
            out += "<tr>" + row.map { "<td>\($0)</td>" }.joined() + "</tr>"
        }
        return out + "</tbody></table>"
    }

    /// The page frame: navigation, the CSRF token for actions, styles and script from the binary.
    static func page(title: String, environment: String, active: String, csrf: String, body: String) -> String {
        let nav = [("overview", "/"), ("graph", "/graph"), ("history", "/history"), ("plan", "/plan"), ("events", "/events"), ("data", "/data"), ("tasks", "/tasks")]
            .map { name, href in "<a href=\"\(href)\"\(name == active ? " class=\"active\"" : "")>\(name)</a>" }.joined()
        return """
        <!doctype html>
        <html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
        <meta name="csrf" content="\(escape(csrf))">
        <title>\(escape(title)) · \(escape(environment)) · devstack</title>
        <style>\(Assets.css)</style></head>
        <body><header><strong>devstack</strong> <span class="env">\(escape(environment))</span><nav>\(nav)</nav></header>
        <main>\(body)</main>
        <script src="/assets/app.js" defer></script></body></html>
        """
    }

    static func badge(_ text: String) -> String {
        let kind: String
        switch text {
        case "running", "healthy", "ok", "succeeded", "True", "true": kind = "good"
        case "exited", "dead", "missing", "unhealthy", "failed", "False", "false": kind = "bad"
        case "starting", "created", "restarting", "paused", "running…", "delayed", "skipped": kind = "warn"
        default: kind = "plain"
        }
        return "<span class=\"badge \(kind)\">\(escape(text))</span>"
    }
}
