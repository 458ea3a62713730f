import Testing
@testable import EnvSpec

@Suite struct TaskAndWatchTests {
    static let root = #"""
    {"name": "lms", "include": ["../courses/env.json", "../forum/env.json"],
     "secrets": {"token": {"fromEnv": "TOKEN"}},
     "services": {"lms": {"image": "lms:1", "build": {"context": "."},
                          "develop": {"watch": [{"path": "./src", "target": "/openedx/app", "action": "sync", "ignore": ["*.pyc"]},
                                                {"path": "requirements.txt", "action": "rebuild"}]}}},
     "tasks": {"migrate": {"service": "lms", "exec": ["./manage.py", "migrate"], "description": "apply migrations", "dependsOn": ["mysql"]},
               "test": {"service": "lms", "run": ["pytest"], "args": true, "env": {"API": {"secret": "token"}, "DEBUG": "1"}},
               "shell": {"service": "lms", "exec": ["bash"], "interactive": true, "workingDir": "/openedx", "user": "app"}}}
    """#
    static let courses = #"""
    {"name": "courses", "services": {"mysql": {"image": "mysql:8"}},
     "tasks": {"test": {"service": "mysql", "exec": ["true"]}, "dump": {"service": "mysql", "exec": ["mysqldump", "--all-databases"]}}}
    """#
    static let forum = #"""
    {"name": "forum", "services": {"forum": {"image": "forum:1"}}, "tasks": {"test": {"service": "forum", "run": ["rspec"]}}}
    """#
    static var files: [String: String] { ["/p/env.json": root, "/courses/env.json": courses, "/forum/env.json": forum] }

    @Test func tasksOfIncludedEnvironmentsAreNamedAfterThem() throws {
        let spec = try load(Self.files).spec
        #expect(spec.tasks.keys.sorted() == ["courses:dump", "courses:test", "forum:test", "migrate", "shell", "test"])
        #expect(spec.tasks["migrate"] == {
            var t = TaskSpec(service: "lms", mode: .exec, command: ["./manage.py", "migrate"])
            t.description = "apply migrations"
            t.dependsOn = ["mysql"]
            return t
        }())
        #expect(spec.tasks["test"]?.env == ["API": .secret("token"), "DEBUG": .literal("1")])
        #expect(spec.tasks["test"]?.argv(extra: ["-k", "x"]) == ["pytest", "-k", "x"])
        #expect(spec.tasks["forum:test"]?.mode == .run)

        // The root's own name wins; a bare name unique among includes finds it; else ambiguity.
        #expect(TaskLookup.resolve("test", in: spec.tasks) == .success("test"))
        #expect(TaskLookup.resolve("dump", in: spec.tasks) == .success("courses:dump"))
        #expect(TaskLookup.resolve("forum:test", in: spec.tasks) == .success("forum:test"))
        var withoutRootTest = spec.tasks
        withoutRootTest["test"] = nil
        #expect(TaskLookup.resolve("test", in: withoutRootTest) == .failure(.ambiguous(name: "test", candidates: ["courses:test", "forum:test"])))
        #expect(TaskLookup.resolve("dmup", in: spec.tasks) == .failure(.unknown(name: "dmup", suggestion: " (did you mean \"dump\"?)")))
    }

    @Test func watchRulesAreRebasedAndKeptOutOfTheServiceHash() throws {
        let spec = try load(Self.files).spec
        #expect(spec.services["lms"]?.develop == [
            WatchRule(path: "src", target: "/openedx/app", action: .sync, ignore: ["*.pyc"]),
            WatchRule(path: "requirements.txt", action: .rebuild),
        ])
        var edited = spec
        edited.services["lms"]!.develop[0].target = "/elsewhere"
        edited.tasks["migrate"]!.command = ["./manage.py", "migrate", "--noinput"]
        // A changed rule or task is a new revision that recreates nothing.
        #expect(edited.services["lms"]!.specHash == spec.services["lms"]!.specHash)
        #expect(edited.specHash != spec.specHash)
        #expect(SpecDiff(from: spec, to: edited).entries.map { "\($0.section) \($0.name) \($0.fields.map(\.path))" }
                == ["task migrate [\"exec\"]", "watch lms [\"[0].target\"]"])
    }

    @Test func theCanonicalFormReadsBackWithTasksAndRules() throws {
        let spec = try load(Self.files).spec
        let back = try EnvironmentSpec.decodeCanonical(json: spec.canonicalJSON, source: "stored")
        #expect(back == spec)
        #expect(back.specHash == spec.specHash)
        // What `show` prints is an environment file that records the same hashes, included
        // tasks being overrides by their INCLUDE:NAME.
        let shown = try load(["/p/env.json": CanonicalJSON.pretty(spec.fileForm)]).spec
        #expect(shown == spec)
        #expect(shown.specHash == spec.specHash)
        // Without tasks or rules the form is what it was before they existed.
        let plain = try load(["/p/env.json": #"{"name": "x", "services": {"a": {"image": "a"}}}"#]).spec
        #expect(plain.canonicalJSON.contains("tasks") == false)
        #expect(plain.canonicalJSON.contains("develop") == false)
    }

    @Test func mistakesAreNamedWithTheirPath() {
        func problems(_ tasks: String, develop: String = "", build: Bool = false) -> [String] {
            let service = build ? #""build": ".""# : #""image": "x""#
            return errors(#"{"name": "x", "services": {"web": {"# + service + develop + #"}}, "tasks": {"# + tasks + "}}")
        }
        #expect(problems(#""t": {"service": "api", "exec": ["x"]}"#) == [#"env.json: tasks.t.service: no service named "api""#])
        #expect(problems(#""t": {"service": "web", "exec": ["x"], "run": ["y"]}"#)
                == [#"env.json: tasks.t: expected exactly one of "exec" (in the running container) or "run" (in a one-off container of the service's image)"#])
        #expect(problems(#""t": {"service": "web", "exec": "make test"}"#)
                == [#"env.json: tasks.t.exec: expected an array of strings, found a string (write the command as an argument array, e.g. ["sh", "-c", "..."])"#])
        #expect(problems(#""t": {"service": "web", "exec": []}"#) == [#"env.json: tasks.t.exec: expected the command and its arguments, found an empty array"#])
        #expect(problems(#""T:x": {"service": "web", "exec": ["x"]}"#)
                == [#"env.json: tasks.T:x: invalid task name "T:x": use 1 to 63 lower-case letters, digits, '-' or '_', starting with a letter or digit (an included environment's task is INCLUDE:NAME)"#])
        #expect(problems(#""t": {"service": "web", "exec": ["x"], "dependsOn": ["db"], "env": {"K": {"secret": "nope"}}}"#)
                == [#"env.json: tasks.t.dependsOn[0]: no service named "db" (did you mean "web"?)"#, #"env.json: tasks.t.env.K: no secret named "nope" in "secrets""#])
        #expect(problems("", develop: #", "develop": {"watch": [{"path": "src", "action": "sync"}]}"#)
                == [#"env.json: services.web.develop.watch[0]: expected "target": where "src" lands in the container for "sync""#])
        #expect(problems("", develop: #", "develop": {"watch": [{"path": "src", "action": "rebuild"}]}"#)
                == [#"env.json: services.web.develop.watch[0].action: "rebuild" needs a service built from "build"; web runs the image x"#])
        #expect(problems("", develop: #", "develop": {"watch": [{"path": "/src", "target": "/a", "action": "sync"}]}"#)
                == [#"env.json: services.web.develop.watch[0].path: expected a path relative to the environment file, found "/src""#])
        #expect(problems("", develop: #", "develop": {"watch": [{"path": "src", "target": "a", "action": "copy"}]}"#)
                == [#"env.json: services.web.develop.watch[0].target: expected an absolute path in the container, found "a""#,
                    #"env.json: services.web.develop.watch[0].action: expected one of "sync", "rebuild", "sync+restart", found "copy""#])
        let escaping = #"{"name": "x", "services": {"web": {"image": "x", "develop": {"watch": [{"path": "../../etc", "target": "/a", "action": "sync"}]}}}}"#
        do {
            _ = try load(["/w/p/env.json": escaping], root: "/w/p/env.json")
            Issue.record("expected a refusal")
        } catch {
            #expect(error.diagnostics.map(\.description) == [#"/w/p/env.json: services.web.develop.watch[0].path: "../../etc" leaves the workspace /w"#])
        }
    }

    @Test func anIncludedFileWithTasksAndNoUsableNameIsRefused() {
        let files = ["/p/env.json": #"{"name": "p", "include": ["../My Repo/env.json"], "services": {}}"#,
                     "/My Repo/env.json": #"{"services": {"a": {"image": "a"}}, "tasks": {"t": {"service": "a", "exec": ["x"]}}}"#]
        do {
            _ = try load(files)
            Issue.record("expected a refusal")
        } catch {
            #expect(error.diagnostics.map(\.description) == [#"../My Repo/env.json: tasks: an included file with tasks needs "name": its tasks are called NAME:TASK"#])
        }
    }

    // MARK: the watch planner

    static let targets = [
        WatchTarget(service: "web", rule: WatchRule(path: "src", target: "/app", action: .sync, ignore: ["*.pyc", "node_modules/"]), root: "/p/src",
                    context: (directory: "/p", ignore: DockerIgnore(text: "src/secret.txt"))),
        WatchTarget(service: "worker", rule: WatchRule(path: "src/tasks", target: "/w", action: .syncRestart), root: "/p/src/tasks"),
        WatchTarget(service: "api", rule: WatchRule(path: "api", target: "/api", action: .sync), root: "/p/api"),
        WatchTarget(service: "api", rule: WatchRule(path: "api/Dockerfile", action: .rebuild), root: "/p/api/Dockerfile"),
    ]

    @Test func changedPathsMapToTargetsAndIgnoredOnesDoNot() {
        let plan = WatchPlanner.plan(changes: ["/p/src/a.py", "/p/src/a.pyc", "/p/src/node_modules/x.js", "/p/src/secret.txt",
                                               "/p/src/.a.py.swp", "/p/src/a.py~", "/p/src/tasks/t.py", "/p/other.txt", "/p/src/a.py"],
                                     targets: Self.targets)
        #expect(plan.syncs == [
            "web": [.init(local: "/p/src/a.py", target: "/app/a.py"), .init(local: "/p/src/tasks/t.py", target: "/app/tasks/t.py")],
            "worker": [.init(local: "/p/src/tasks/t.py", target: "/w/t.py")],
        ])
        #expect(plan.restarts == ["worker"])
        #expect(plan.rebuilds == [])
    }

    @Test func aRebuildSupersedesTheSameServicesSync() {
        let plan = WatchPlanner.plan(changes: ["/p/api/main.go", "/p/api/Dockerfile"], targets: Self.targets)
        #expect(plan.rebuilds == ["api"])
        #expect(plan.syncs == [:])
        #expect(WatchPlanner.plan(changes: ["/p/api/main.go"], targets: Self.targets).syncs == ["api": [.init(local: "/p/api/main.go", target: "/api/main.go")]])
        #expect(WatchPlanner.plan(changes: ["/p/apis/x"], targets: Self.targets).isEmpty)
    }
}
