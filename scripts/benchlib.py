"""Shared by the benchmark scripts: the machine a figure was measured on, and writing a table
into its own marked block of docs/performance.md, so no figure there is copied by hand."""
import os, subprocess, sys, time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
RELEASE_BINARY = os.path.join(ROOT, ".build/release/devstack")


def build_release():
    """The binary users run (scripts/install builds it the same way): release, static stdlib."""
    subprocess.run(["swift", "build", "-c", "release", "--static-swift-stdlib", "--product", "devstack"], cwd=ROOT, check=True,
                   stdout=subprocess.DEVNULL)
    return RELEASE_BINARY


def describe_machine():
    """The commit and the machine a table was measured on, for the docs."""
    def out(argv):
        try:
            return subprocess.run(argv, capture_output=True, text=True, cwd=ROOT).stdout.strip()
        except OSError:
            return "?"
    commit = out(["git", "rev-parse", "--short", "HEAD"]) or "?"
    dirty = " (with uncommitted changes)" if out(["git", "status", "--porcelain", "--untracked-files=no"]) else ""
    engine = out(["docker", "version", "--format", "{{.Server.Version}}"]) or "?"
    return commit + dirty, f"{os.cpu_count()} cores, {out(['uname', '-m'])}, dockerd {engine}"


def write_block(marker, command, preface, table):
    """Replaces the block between <!-- MARKER:begin --> and <!-- MARKER:end --> in docs/performance.md."""
    path = os.path.join(ROOT, "docs", "performance.md")
    begin, end = f"<!-- {marker}:begin -->", f"<!-- {marker}:end -->"
    text = open(path, encoding="utf-8").read()
    if begin not in text or end not in text:
        print(f"{path}: no {begin} … {end} block; the table was not written", file=sys.stderr)
        return
    commit, machine = describe_machine()
    block = (f"{begin}\n`{command.strip()}` at commit {commit}, {time.strftime('%Y-%m-%d', time.gmtime())}, on {machine}. "
             f"{preface}\n\n```\n{table}\n```\n{end}")
    head, rest = text.split(begin, 1)
    tail = rest.split(end, 1)[1]
    with open(path, "w", encoding="utf-8") as f:
        f.write(head + block + tail)
    print(f"wrote the table into {path} ({marker})", file=sys.stderr)


def render(header, rows):
    widths = [max(len(r[i]) for r in rows + [header]) for i in range(len(header))]
    return "\n".join(["  ".join(h.ljust(w) for h, w in zip(header, widths)).rstrip()] +
                     ["  ".join(c.ljust(w) for c, w in zip(row, widths)).rstrip() for row in rows])


if __name__ == "__main__":
    # For the shell benchmarks: python3 scripts/benchlib.py MARKER COMMAND PREFACE < table
    if len(sys.argv) != 4:
        sys.exit("usage: benchlib.py MARKER COMMAND PREFACE < table")
    write_block(sys.argv[1], sys.argv[2], sys.argv[3], sys.stdin.read().rstrip("\n"))
