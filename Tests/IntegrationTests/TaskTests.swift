import Foundation
import Testing
import TestSupport

/// Tasks on the real engine: `devstack run` in a running container and in a one-off one, with
/// arguments, from an included environment, and under a pseudo-terminal.
@Suite(.serialized) struct TaskTests {
    /// An environment with one service, a few tasks, and an included "dep" environment with its own.
    static func fixture() -> EngineFixture {
        let f = EngineFixture("task")
        try? FileManager.default.createDirectory(atPath: f.dir + "/dep", withIntermediateDirectories: true)
        CLI.write("""
        {"name": "dep", "services": {"cache": {"image": "devstack/busybox:1.36", "pullPolicy": "never", "command": ["sleep", "3600"]}},
         "tasks": {"ping": {"service": "cache", "exec": ["echo", "pong"]}, "greet": {"service": "cache", "exec": ["echo", "greetings from dep"]}}}
        """, to: f.dir + "/dep/env.json")
        CLI.write("""
        {"name": "\(f.name)", "include": ["dep/env.json"],
         "secrets": {"token": {"fromEnv": "IT_TASK_TOKEN"}},
         "services": {"web": {"image": "devstack/busybox:1.36", "pullPolicy": "never", "command": ["sleep", "3600"]}},
         "tasks": {
           "fail": {"service": "web", "exec": ["sh", "-c", "echo out; echo err >&2; exit 7"], "description": "fails on purpose"},
           "greet": {"service": "web", "exec": ["sh", "-c", "echo $GREETING from $(pwd) as $(id -u)"], "env": {"GREETING": "hello"}, "workingDir": "/tmp", "user": "65534"},
           "args": {"service": "web", "run": ["printf", "[%s]"], "args": true},
           "noargs": {"service": "web", "exec": ["true"]},
           "secret": {"service": "web", "exec": ["sh", "-c", "echo token=$T"], "env": {"T": {"secret": "token"}}},
           "shell": {"service": "web", "exec": ["sh"], "interactive": true},
           "oneoff": {"service": "web", "run": ["sh"], "interactive": true}
         }}
        """, to: f.file)
        return f
    }

    static let token = ["IT_TASK_TOKEN": "tok-3141592"]

    @Test func exitCodeOutputArgumentsAndIncludedTasks() throws {
        guard Docker.require() else { return }
        let f = Self.fixture()
        defer { f.tearDown() }
        #expect(f.devstack(["apply", f.file], environment: Self.token).code == 0)

        let failed = f.devstack(["run", "fail"], environment: Self.token)
        #expect(failed.code == 7)
        #expect(failed.stdout == "out\n")
        #expect(failed.stderr.contains("err\n"))

        let greet = f.devstack(["run", "greet"], environment: Self.token)
        #expect(greet.code == 0)
        #expect(greet.stdout == "hello from /tmp as 65534\n")

        // A one-off container of the service's image gets the arguments after --, then goes.
        let args = f.devstack(["run", "args", "--", "a b", "--flag", "c"], environment: Self.token)
        #expect(args.code == 0, "\(args.stderr)")
        #expect(args.stdout == "[a b][--flag][c]")
        #expect(f.containers() == [f.container("cache"), f.container("web")])

        let refused = f.devstack(["run", "noargs", "--", "x"], environment: Self.token)
        #expect(refused.code == 2)
        #expect(refused.stderr.contains("task \"noargs\" takes no arguments"))

        // "greet" is the root file's; the included one is dep:greet; "ping" is unique to dep.
        #expect(f.devstack(["run", "dep:greet"], environment: Self.token).stdout == "greetings from dep\n")
        #expect(f.devstack(["run", "ping"], environment: Self.token).stdout == "pong\n")
        let unknown = f.devstack(["run", "pnig"], environment: Self.token)
        #expect(unknown.code == 2)
        #expect(unknown.stderr.contains("no task named \"pnig\" (did you mean \"ping\"?); devstack tasks lists them"), "\(unknown.stderr)")

        // The secret's value never reaches the output or the event log.
        let secret = f.devstack(["run", "secret"], environment: Self.token)
        #expect(secret.stdout == "token=•••\n")

        let listed = f.devstack(["tasks", "--json"])
        let names = (try JSONSerialization.jsonObject(with: Data(listed.stdout.utf8)) as? [[String: Any]])?.compactMap { $0["name"] as? String }
        #expect(names == ["args", "dep:greet", "dep:ping", "fail", "greet", "noargs", "oneoff", "secret", "shell"])

        let events = f.devstack(["events", "--json", "--limit", "100"]).stdout
        let tasks = ((try JSONSerialization.jsonObject(with: Data(events.utf8)) as? [[String: Any]]) ?? []).filter { $0["action"] as? String == "task" }
        #expect(tasks.map { $0["cause"] as? String ?? "" } == ["task fail", "task greet", "task args", "task dep:greet", "task dep:ping", "task secret"])
        #expect(tasks.first?["outcome"] as? String == "failed")
        #expect(tasks.first?["detail"] as? String == "exit code 7: sh -c echo out; echo err >&2; exit 7")
        #expect(!events.contains("tok-3141592"))
    }

    @Test func aTaskBringsUpItsServiceWhenItIsDown() throws {
        guard Docker.require() else { return }
        let f = Self.fixture()
        defer { f.tearDown() }
        #expect(f.devstack(["apply", f.file], environment: Self.token).code == 0)
        #expect(Docker.run(["rm", "-f", f.container("web")]).code == 0)
        let greet = f.devstack(["run", "greet"], environment: Self.token)
        #expect(greet.code == 0, "\(greet.stderr)")
        #expect(greet.stdout == "hello from /tmp as 65534\n")
        #expect(greet.stderr.contains("bringing up web for the task"))
    }

    /// Drives an interactive task through `script`, which gives it a pseudo-terminal.
    static func underTerminal(_ f: EngineFixture, _ task: String, typing lines: [String], command arguments: String? = nil) -> CLIResult {
        let typed = lines.map { "sleep 1; printf '%s\\n' '\($0)'" }.joined(separator: "; ")
        let command = "(\(typed)) | script -q -e -c '\(CLI.binary) \(arguments ?? "run \(task)")' /dev/null"
        return CLI.run("sh", ["-c", command], environment: f.env.merging(Self.token) { $1 }, cwd: f.dir)
    }

    @Test func interactiveTasksGetATerminal() throws {
        guard Docker.require() else { return }
        let f = Self.fixture()
        defer { f.tearDown() }
        #expect(f.devstack(["apply", f.file], environment: Self.token).code == 0)

        let exec = Self.underTerminal(f, "shell", typing: ["echo answer-$((6*7))", "tty", "exit 5"])
        #expect(exec.code == 5, "\(exec.output)")
        #expect(exec.stdout.contains("answer-42"))
        #expect(exec.stdout.contains("/dev/pts/"))

        let oneOff = Self.underTerminal(f, "oneoff", typing: ["echo one-off-$((6*7))", "exit 4"])
        #expect(oneOff.code == 4, "\(oneOff.output)")
        #expect(oneOff.stdout.contains("one-off-42"))

        // devstack exec gets a terminal the same way.
        let exec2 = Self.underTerminal(f, "", typing: ["echo exec-$((6*7))", "exit 6"], command: "exec web -- sh")
        #expect(exec2.code == 6, "\(exec2.output)")
        #expect(exec2.stdout.contains("exec-42"))
        #expect(f.containers() == [f.container("cache"), f.container("web")])
    }
}
