import Application
import EnvSpec
import Foundation
import Reconciler

/// The pages' bodies: pure functions from what the use cases return to HTML.
enum Pages {
    static func overview(_ report: StatusUseCase.Report) -> String {
        let rows = report.services.map { s -> [String] in
            let ready = s.conditions.first { $0.type == "Ready" }
            let ports: String = s.ports.map { p -> String in
                let host = p.split(separator: "-").first.map(String.init) ?? p
                return "<a href=\"http://\(HTML.escape(host))/\">\(HTML.escape(p))</a>"
            }.joined(separator: " ")
            let readyText: String = ready.map { $0.status ? "true" : "false" } ?? "-"
            let readyCell: String = HTML.badge(readyText) + " <span class=\"muted\">" + HTML.escape(ready?.reason ?? "") + "</span>"
            let name: String = "<a href=\"/logs/" + HTML.component(s.service) + "\">" + HTML.escape(s.service) + "</a>"
            let button: String = "<button type=\"button\" data-action=\"restart\" data-service=\"" + HTML.escape(s.service) + "\">restart</button>"
            let revision: String = s.revision.map { String($0) } ?? "-"
            return [name, HTML.badge(s.state), HTML.badge(s.health), readyCell, ports, HTML.escape(revision), HTML.escape(s.drift ?? ""), button]
        }
        let table = HTML.table(["service", "state", "health", "ready", "ports", "created at revision", "drift", ""], rows, id: "services")
        let problems = report.problems.map { "<p class=\"badge bad\">\(HTML.escape($0))</p>" }.joined()
        return """
        <h1>Overview</h1>
        <div class="toolbar"><span>desired revision <strong id="desired-revision">\(report.desiredRevision)</strong></span>
        <span class="muted">live: updates from engine events and the store</span>
        <button type=\"button\" data-action="snapshot">save snapshot…</button></div>
        \(problems)\(table)<pre id="job"></pre>
        """
    }

    /// The dependency graph in layers (a service sits one layer right of its deepest dependency),
    /// drawn as SVG with each node coloured by its state.
    static func graph(_ spec: EnvironmentSpec, states: [String: (state: String, health: String)]) -> String {
        var depth: [String: Int] = [:]
        for name in spec.startOrder {
            let deps = spec.services[name]?.dependsOn.keys.compactMap { depth[$0] } ?? []
            depth[name] = (deps.max() ?? -1) + 1
        }
        let layers = Dictionary(grouping: depth.keys, by: { depth[$0]! }).mapValues { $0.sorted() }
        let width = 190, height = 56, boxW = 150, boxH = 34
        var position: [String: (x: Int, y: Int)] = [:]
        for (layer, names) in layers {
            for (i, name) in names.enumerated() { position[name] = (20 + layer * width, 20 + i * height) }
        }
        let svgW = 40 + (layers.keys.max() ?? 0) * width + boxW
        let svgH = 40 + (layers.values.map(\.count).max() ?? 1) * height
        var svg = "<svg id=\"graph\" xmlns=\"http://www.w3.org/2000/svg\" width=\"\(svgW)\" height=\"\(svgH)\" viewBox=\"0 0 \(svgW) \(svgH)\">"
        svg += "<defs><marker id=\"arrow\" viewBox=\"0 0 10 10\" refX=\"10\" refY=\"5\" markerWidth=\"6\" markerHeight=\"6\" orient=\"auto\"><path d=\"M0,0 L10,5 L0,10 z\" fill=\"#6b7280\"/></marker></defs>"
        for name in spec.serviceNames {
            guard let to = position[name] else { continue }
            for (dep, condition) in spec.services[name]!.dependsOn.sorted(by: { $0.key < $1.key }) {
                guard let from = position[dep] else { continue }
                svg += "<line x1=\"\(from.x + boxW)\" y1=\"\(from.y + boxH / 2)\" x2=\"\(to.x)\" y2=\"\(to.y + boxH / 2)\" stroke=\"#9ca3af\" marker-end=\"url(#arrow)\"><title>\(HTML.escape("\(name) needs \(dep) \(condition.rawValue)"))</title></line>"
            }
        }
        for name in spec.serviceNames {
            guard let at = position[name] else { continue }
            let state = states[name] ?? ("missing", "-")
            let fill = state.state != "running" ? "#fee2e2" : state.health == "starting" ? "#fef3c7" : state.health == "unhealthy" ? "#fee2e2" : "#dcfce7"
            svg += "<g class=\"node\" data-service=\"\(HTML.escape(name))\" data-state=\"\(HTML.escape(state.state))\"><rect x=\"\(at.x)\" y=\"\(at.y)\" width=\"\(boxW)\" height=\"\(boxH)\" rx=\"6\" fill=\"\(fill)\" stroke=\"#6b7280\"/>"
            svg += "<text x=\"\(at.x + 8)\" y=\"\(at.y + 15)\">\(HTML.escape(name))</text><text x=\"\(at.x + 8)\" y=\"\(at.y + 28)\" fill=\"#6b7280\">\(HTML.escape(state.state + (["-", "none"].contains(state.health) ? "" : ", \(state.health)")))</text></g>"
        }
        return "<h1>Dependency graph</h1>\(svg)</svg>"
    }

    static let historyPage = 50

    static func history(_ rows: [RevisionSummary], latest: Int?) -> String {
        let body = rows.map { r -> [String] in
            ["<label><input type=\"radio\" name=\"a\" value=\"\(r.number)\"> <input type=\"radio\" name=\"b\" value=\"\(r.number)\"> \(r.number)</label>",
             HTML.escape(r.createdAt), HTML.escape("\(r.author)@\(r.host)"), HTML.escape(r.source.rawValue), HTML.escape(r.message),
             "<code>\(HTML.escape(r.changes))</code>",
             r.number == latest ? "<span class=\"muted\">current</span>" : "<button type=\"button\" data-action=\"rollback\" data-revision=\"\(r.number)\">roll back here</button>"]
        }
        let next = rows.last.map { "<a href=\"/history?before=\($0.number)\">older →</a>" } ?? ""
        return """
        <h1>History</h1>
        <form method="get" action="/diff"><div class="toolbar"><span class="muted">pick A (left radio) and B (right radio), then</span><button type="submit">compare</button> \(rows.count == historyPage ? next : "")</div>
        \(HTML.table(["A B rev", "when", "who", "source", "message", "changes", ""], body, id: "history"))</form><pre id="job"></pre>
        """
    }

    /// `diff A B` field by field, side by side: path, A's value, B's value.
    static func diff(_ a: Int, _ b: Int, _ diff: SpecDiff) -> String {
        if diff.isEmpty { return "<h1>Revision \(a) → \(b)</h1><p>no differences</p>" }
        var cells = "<div class=\"head\">field</div><div class=\"head\">revision \(a)</div><div class=\"head\">revision \(b)</div>"
        for entry in diff.entries {
            cells += "<div class=\"head\">\(HTML.escape("\(entry.section) \(entry.name)")) (\(entry.kind.rawValue))</div><div class=\"head\"></div><div class=\"head\"></div>"
            for field in entry.fields {
                cells += "<div>\(HTML.escape(field.path.isEmpty ? "(whole)" : field.path))</div><div class=\"old\">\(HTML.escape(field.old ?? ""))</div><div class=\"new\">\(HTML.escape(field.new ?? ""))</div>"
            }
        }
        return "<h1>Revision \(a) → \(b)</h1><p>\(HTML.escape(diff.summaryLine))</p><div class=\"diff\" id=\"diff\">\(cells)</div>"
    }

    static func plan(_ plan: Plan, revision: Int) -> String {
        if plan.isEmpty && plan.problems.isEmpty { return "<h1>Plan for revision \(revision)</h1><p id=\"plan-empty\">nothing to do: the engine matches revision \(revision)</p>" }
        let rows = plan.steps.map { step in
            [HTML.escape(String(step.id)), HTML.escape(step.action.verb), HTML.escape(step.service ?? ""), HTML.escape(step.cause),
             HTML.escape(step.dependsOn.map(String.init).joined(separator: ", "))]
        }
        let problems = plan.problems.map { "<p class=\"badge bad\">\(HTML.escape($0))</p>" }.joined()
        return "<h1>Plan for revision \(revision)</h1><p class=\"muted\">what apply would do now, and why</p>\(problems)\(HTML.table(["step", "action", "service", "cause", "after"], rows, id: "plan"))"
    }

    static func events(_ events: [EventRecord], service: String?, outcome: String?, services: [String]) -> String {
        let options = ([""] + services).map { "<option\($0 == (service ?? "") ? " selected" : "")>\(HTML.escape($0))</option>" }.joined()
        let outcomes = ["", "ok", "failed", "skipped", "delayed"].map { "<option\($0 == (outcome ?? "") ? " selected" : "")>\($0)</option>" }.joined()
        let rows = events.reversed().map { e in
            [HTML.escape(e.time), HTML.escape(e.revision.map(String.init) ?? ""), HTML.escape(e.service ?? ""), HTML.escape(e.action),
             HTML.badge(e.outcome), HTML.escape(e.durationMs.map(String.init) ?? ""), HTML.escape(e.cause), "<span class=\"muted\">\(HTML.escape(e.detail ?? ""))</span>"]
        }
        return """
        <h1>Events</h1><form method="get" class="toolbar">service <select name="service">\(options)</select> outcome <select name="outcome">\(outcomes)</select><button type="submit">filter</button></form>
        \(HTML.table(["time (UTC)", "rev", "service", "action", "outcome", "ms", "cause", "detail"], rows, id: "events"))
        """
    }

    static func data(seeds: [String], ledger: [SeedRun], snapshots: [SnapshotRecord]) -> String {
        let byName = Dictionary(ledger.map { ($0.seed, $0) }, uniquingKeysWith: { a, _ in a })
        let seedRows = seeds.map { name -> [String] in
            let run = byName[name]
            return [HTML.escape(name), run.map { HTML.badge($0.status.rawValue) } ?? "<span class=\"muted\">never run</span>",
                    "<code>\(HTML.escape(String(run?.checksum.prefix(16) ?? "")))</code>", HTML.escape(run?.revision.map(String.init) ?? ""),
                    HTML.escape(run?.durationMs.map { "\($0) ms" } ?? ""), HTML.escape(run?.finishedAt ?? run?.startedAt ?? ""),
                    "<button type=\"button\" data-action=\"seed\" data-seed=\"\(HTML.escape(name))\">run</button>"]
        }
        let snapshotRows = snapshots.flatMap { snapshot in
            snapshot.volumes.map { v in
                [HTML.escape(snapshot.name), HTML.escape(snapshot.createdAt), HTML.escape(snapshot.revision.map(String.init) ?? ""), HTML.escape(v.volume),
                 HTML.escape(Bytes.format(v.bytes)), "<code>\(HTML.escape(v.sha256))</code>"]
            }
        }
        return """
        <h1>Seeds</h1>\(HTML.table(["seed", "last run", "checksum", "revision", "duration", "when", ""], seedRows, id: "seeds"))
        <h1>Snapshots</h1><div class="toolbar"><button type=\"button\" data-action="snapshot">save snapshot…</button></div>
        \(HTML.table(["snapshot", "taken", "revision", "volume", "size", "sha256"], snapshotRows, id: "snapshots"))<pre id="job"></pre>
        """
    }

    static func tasks(_ tasks: [TasksUseCase.Listed]) -> String {
        let rows = tasks.map { t in
            [HTML.escape(t.name), HTML.escape(t.task.service), "<code>\(HTML.escape("\(t.task.mode.rawValue) \(t.task.command.joined(separator: " "))"))</code>",
             HTML.escape(t.task.description ?? ""), "<code>devstack run \(HTML.escape(t.name))</code>"]
        }
        return "<h1>Tasks</h1>\(HTML.table(["task", "service", "runs", "description", "from a terminal"], rows, id: "tasks"))"
    }

    static func logs(_ service: String) -> String {
        "<h1>Logs of \(HTML.escape(service))</h1><p class=\"muted\">live; secret values are shown as •••</p><pre id=\"log\" data-service=\"\(HTML.escape(service))\"></pre>"
    }
}
