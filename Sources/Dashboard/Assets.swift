import Crypto
import Foundation

/// Everything the page needs, served from the binary: no CDN, no fonts from elsewhere.
enum Assets {
    /// The stylesheet goes inline (one round trip less before the first paint); the
    /// Content-Security-Policy admits exactly this text by its hash, and no other inline style.
    static let cssHash = "sha256-" + Data(SHA256.hash(data: Data(css.utf8))).base64EncodedString()

    static let css = """
    :root { --bg: #fafafa; --fg: #1d2330; --muted: #6b7280; --line: #e5e7eb; --good: #15803d; --bad: #b91c1c; --warn: #b45309; --accent: #1d4ed8; }
    * { box-sizing: border-box; }
    body { margin: 0; font: 14px/1.45 system-ui, -apple-system, "Segoe UI", sans-serif; color: var(--fg); background: var(--bg); }
    header { display: flex; gap: 1rem; align-items: center; padding: .6rem 1.2rem; background: #111827; color: #f9fafb; }
    header .env { font-family: ui-monospace, monospace; background: #374151; padding: .1rem .5rem; border-radius: 4px; }
    nav { display: flex; gap: .2rem; margin-left: 1rem; }
    nav a { color: #d1d5db; text-decoration: none; padding: .25rem .6rem; border-radius: 4px; }
    nav a.active, nav a:hover { background: #374151; color: #fff; }
    main { padding: 1rem 1.2rem; }
    h1 { font-size: 1.2rem; margin: .2rem 0 1rem; }
    table { border-collapse: collapse; width: 100%; background: #fff; border: 1px solid var(--line); }
    th, td { text-align: left; padding: .35rem .6rem; border-bottom: 1px solid var(--line); vertical-align: top; }
    th { background: #f3f4f6; font-weight: 600; }
    code, .mono { font-family: ui-monospace, SFMono-Regular, Menlo, monospace; font-size: 12.5px; }
    .badge { display: inline-block; padding: 0 .45rem; border-radius: 999px; font-size: 12px; border: 1px solid currentColor; }
    .badge.good { color: var(--good); } .badge.bad { color: var(--bad); } .badge.warn { color: var(--warn); } .badge.plain { color: var(--muted); }
    .muted { color: var(--muted); }
    button { font: inherit; padding: .2rem .6rem; border: 1px solid var(--line); border-radius: 4px; background: #fff; cursor: pointer; }
    button:hover { border-color: var(--accent); color: var(--accent); }
    .diff { display: grid; grid-template-columns: 1fr 1fr 1fr; gap: 0; }
    .diff div { padding: .25rem .5rem; border-bottom: 1px solid var(--line); font-family: ui-monospace, monospace; font-size: 12.5px; overflow-wrap: anywhere; }
    .diff .old { background: #fef2f2; } .diff .new { background: #f0fdf4; } .diff .head { font-weight: 600; background: #f3f4f6; font-family: inherit; }
    #job { white-space: pre-wrap; background: #111827; color: #e5e7eb; padding: .6rem; border-radius: 4px; min-height: 2rem; display: none; }
    #log { white-space: pre-wrap; background: #111827; color: #e5e7eb; padding: .6rem; border-radius: 4px; height: 70vh; overflow: auto; }
    form.inline { display: inline; }
    .toolbar { display: flex; gap: .6rem; align-items: center; margin-bottom: .8rem; flex-wrap: wrap; }
    svg text { font: 12px system-ui, sans-serif; }
    """

    /// Live updates (server-sent events), actions (POST with the CSRF token, after confirmation,
    /// their progress streamed into #job) and the log tail.
    static let js = """
    (function () {
      const csrf = document.querySelector('meta[name="csrf"]').content;
      function esc(s) { return String(s).replace(/[&<>"']/g, c => ({'&':'&amp;','<':'&lt;','>':'&gt;','"':'&quot;',"'":'&#39;'}[c])); }
      function badge(s) {
        const good = ['running','healthy','True'], bad = ['exited','dead','missing','unhealthy','False'], warn = ['starting','created','restarting','paused'];
        const k = good.includes(s) ? 'good' : bad.includes(s) ? 'bad' : warn.includes(s) ? 'warn' : 'plain';
        return '<span class="badge ' + k + '">' + esc(s) + '</span>';
      }
      const overview = document.getElementById('services');
      if (overview) {
        const source = new EventSource('/live/overview');
        source.addEventListener('overview', e => {
          const report = JSON.parse(e.data);
          document.getElementById('desired-revision').textContent = report.desiredRevision;
          overview.querySelector('tbody').innerHTML = report.services.map(s => {
            const ready = (s.conditions.find(c => c.type === 'Ready') || {});
            const ports = s.ports.map(p => { const host = p.split('->')[0]; return '<a href="http://' + esc(host) + '/">' + esc(p) + '</a>'; }).join(' ');
            return '<tr data-service="' + esc(s.service) + '" data-state="' + esc(s.state) + '"><td><a href="/logs/' + encodeURIComponent(s.service) + '">' + esc(s.service) + '</a></td><td class="state">' + badge(s.state) +
              '</td><td>' + badge(s.health) + '</td><td>' + badge(String(ready.status)) + ' <span class="muted">' + esc(ready.reason || '') + '</span></td><td>' + ports +
              '</td><td>' + esc(s.revision == null ? '-' : s.revision) + '</td><td>' + esc(s.drift || '') + '</td><td><button type="button" data-action="restart" data-service="' + esc(s.service) +
              '">restart</button></td></tr>';
          }).join('');
        });
      }
      const log = document.getElementById('log');
      if (log) {
        const source = new EventSource('/live/logs/' + encodeURIComponent(log.dataset.service));
        source.addEventListener('line', e => {
          const atEnd = log.scrollTop + log.clientHeight >= log.scrollHeight - 4;
          log.textContent += JSON.parse(e.data) + '\\n';
          if (atEnd) log.scrollTop = log.scrollHeight;
        });
      }
      const job = document.getElementById('job');
      async function act(action, fields, question) {
        if (!confirm(question)) return;
        const body = new URLSearchParams(Object.assign({csrf: csrf}, fields));
        const response = await fetch('/actions/' + action, {method: 'POST', body: body, headers: {'X-CSRF-Token': csrf}});
        const text = await response.text();
        job.style.display = 'block';
        if (!response.ok) { job.textContent = text; return; }
        const id = JSON.parse(text).job;
        job.textContent = '';
        const source = new EventSource('/live/jobs/' + id);
        source.addEventListener('line', e => { job.textContent += JSON.parse(e.data) + '\\n'; });
        source.addEventListener('done', e => { job.textContent += JSON.parse(e.data) + '\\n'; source.close(); });
      }
      document.addEventListener('click', e => {
        const b = e.target.closest('button[data-action]');
        if (!b) return;
        const d = b.dataset;
        if (d.action === 'rollback') act('rollback', {revision: d.revision}, 'Roll back to revision ' + d.revision + '?');
        if (d.action === 'restart') act('restart', {service: d.service}, 'Restart ' + d.service + '?');
        if (d.action === 'seed') act('seed', {seed: d.seed}, 'Run seed ' + d.seed + ' now?');
        if (d.action === 'snapshot') { const name = prompt('Snapshot name'); if (name) act('snapshot', {name: name}, 'Save snapshot ' + name + '?'); }
      });
    })();
    """
}
