import Application
import EnvSpec
import Foundation
@testable import HostFiles
import Testing
import TestSupport

/// `devstack fsmonitor`'s parts on this machine's kernel (inotify) and a real local socket.
@Suite struct ContextMonitorTests {
    func write(_ text: String, to path: String) throws {
        try FileManager.default.createDirectory(atPath: PathMath.directory(of: path), withIntermediateDirectories: true)
        try Data(text.utf8).write(to: URL(fileURLWithPath: path))
    }

    @Test func theTokenHoldsUntilSomethingBelowTheFolderChanges() throws {
        let dir = CLI.temporaryDirectory("devstack-monitor")
        try write("one", to: dir + "/src/deep/a.txt")
        let monitor = ContextMonitor()
        var seen: Set<String> = []
        /// The token now, which must be new, and must then hold while nothing changes.
        func newToken(after change: String) throws -> String {
            let token = try #require(monitor.token(for: dir), "no token after \(change)")
            #expect(!seen.contains(token), "the token did not change after \(change)")
            seen.insert(token)
            #expect(monitor.token(for: dir) == token, "the token changed with nothing changed, after \(change)")
            return token
        }
        _ = try newToken(after: "the first question")
        try write("two", to: dir + "/src/deep/a.txt")
        _ = try newToken(after: "a write deep inside")
        #expect(mkdir(dir + "/fresh", 0o755) == 0)
        _ = try newToken(after: "a new folder")
        try write("x", to: dir + "/fresh/b.txt")
        _ = try newToken(after: "a file in the folder made after the watch began")
        #expect(chmod(dir + "/src/deep/a.txt", 0o600) == 0)
        _ = try newToken(after: "a mode change")
        #expect(rename(dir + "/src/deep/a.txt", dir + "/src/a.txt") == 0)
        _ = try newToken(after: "a rename")
        // A folder whose name is not UTF-8 is watched by its bytes.
        let odd = Array((dir + "/").utf8CString.dropLast()) + [CChar(bitPattern: 0xff), CChar(bitPattern: 0xfe), 0]
        #expect(mkdir(odd, 0o755) == 0)
        _ = try newToken(after: "a folder named by bytes that are not UTF-8")
        let inside = Array(odd.dropLast()) + Array("/c.txt".utf8CString).map { $0 }
        let file = open(inside, O_CREAT | O_WRONLY, 0o644)
        #expect(file >= 0)
        close(file)
        _ = try newToken(after: "a file in that folder")
        #expect(seen.count == 8)
        #expect(monitor.token(for: dir + "/nowhere") == nil)
        #expect(monitor.token(for: dir + "/fresh/b.txt") == nil, "a file is not a folder to watch")
    }

    /// A digest is kept only under the token it was taken with, and only until the next change.
    @Test func aDigestIsKeptOnlyWhileItsTokenHolds() throws {
        let dir = CLI.temporaryDirectory("devstack-monitor")
        try write("one", to: dir + "/a.txt")
        let monitor = ContextMonitor()
        guard case let .token(token)? = monitor.ask(folder: dir, dockerfile: "Dockerfile") else { Issue.record("no token"); return }
        #expect(monitor.remember(folder: dir, dockerfile: "Dockerfile", token: token, digest: "d1"))
        #expect(monitor.ask(folder: dir, dockerfile: "Dockerfile") == .digest(token: token, digest: "d1"))
        #expect(monitor.ask(folder: dir, dockerfile: "other.Dockerfile") == .token(token), "digests are per Dockerfile")
        // A change between the token and the walk's end: the walk may have seen half of it.
        try write("two", to: dir + "/a.txt")
        #expect(!monitor.remember(folder: dir, dockerfile: "other.Dockerfile", token: token, digest: "d2"))
        guard case let .token(fresh)? = monitor.ask(folder: dir, dockerfile: "Dockerfile") else { Issue.record("the old digest was kept"); return }
        #expect(fresh != token)
        #expect(monitor.ask(folder: dir, dockerfile: "other.Dockerfile") == .token(fresh))
    }

    /// A parent renamed tells the folder's watches nothing; another folder then put at its path
    /// is not the folder whose digest the monitor holds.
    @Test func anotherFolderAtTheSamePathIsNotTakenForTheOneWatched() throws {
        let dir = CLI.temporaryDirectory("devstack-monitor")
        try write("one", to: dir + "/parent/ctx/a.txt")
        let monitor = ContextMonitor()
        guard case let .token(token)? = monitor.ask(folder: dir + "/parent/ctx", dockerfile: "Dockerfile") else { Issue.record("no token"); return }
        #expect(monitor.remember(folder: dir + "/parent/ctx", dockerfile: "Dockerfile", token: token, digest: "d1"))
        #expect(rename(dir + "/parent", dir + "/moved") == 0)
        try write("two", to: dir + "/parent/ctx/a.txt")
        guard case let .token(fresh)? = monitor.ask(folder: dir + "/parent/ctx", dockerfile: "Dockerfile") else {
            Issue.record("the moved folder's digest was given for the folder now at its path")
            return
        }
        #expect(fresh != token)
    }

    @Test func theFolderAskedAboutLongestAgoIsDroppedAtTheLimit() throws {
        let dir = CLI.temporaryDirectory("devstack-monitor")
        for name in ["a", "b", "c"] { #expect(mkdir(dir + "/" + name, 0o755) == 0) }
        let monitor = ContextMonitor(maximumRoots: 2)
        let a = monitor.token(for: dir + "/a")
        _ = monitor.token(for: dir + "/b")
        #expect(monitor.token(for: dir + "/a") == a)
        _ = monitor.token(for: dir + "/c")
        #expect(monitor.folders == [dir + "/a", dir + "/c"])
    }

    /// Serves a monitor on a socket in `dir` while `body` runs.
    func serving(in dir: String, name: String = "state.db.fsmonitor", _ body: (String) throws -> Void) throws {
        let server = try ContextMonitorServer(path: dir + "/" + name)
        let done = DispatchSemaphore(value: 0)
        Thread { server.serve(); done.signal() }.start()
        defer { server.stop(); done.wait() }
        try body(server.path)
    }

    typealias MemoryIndex = BuildContextIndexTests.MemoryIndex

    /// A file modified just now makes a walk read the index's entries and hash it again every
    /// time (it is racily clean); with the monitor answering, an unchanged folder is not walked.
    /// The same with the monitor in this process (the controller's) and behind its socket.
    @Test(arguments: [false, true]) func aMonitoredContextIsNotWalkedAgainUntilItChanges(throughSocket: Bool) throws {
        let dir = CLI.temporaryDirectory("devstack-monitor")
        try write("FROM scratch\n", to: dir + "/ctx/Dockerfile")
        try write("abc", to: dir + "/ctx/hot.txt")
        let inProcess = ContextMonitor()
        try serving(in: dir) { socket in
            let index = MemoryIndex()
            let monitor: any ContextMonitoring = throughSocket ? ContextMonitorSocket.Client(socketPath: socket) : inProcess
            let host = LocalHost(contextIndex: index, contextMonitor: monitor)
            let first = try host.contextHash(dir + "/ctx", dockerfile: "Dockerfile")
            #expect(index.saves == 1)
            #expect(try host.contextHash(dir + "/ctx", dockerfile: "Dockerfile") == first)
            #expect(try host.contextHash(dir + "/ctx", dockerfile: "Dockerfile") == first)
            #expect(index.saves == 1, "the monitor vouched for the folder: not walked, not hashed, not written")
            #expect(index.entryReads == 0)
            // One byte, same size, same modification time: the kernel saw the write.
            var info = stat()
            #expect(stat(dir + "/ctx/hot.txt", &info) == 0)
            try write("abd", to: dir + "/ctx/hot.txt")
            var times = [info.st_atim, info.st_mtim]
            #expect(utimensat(AT_FDCWD, dir + "/ctx/hot.txt", &times, 0) == 0)
            let second = try host.contextHash(dir + "/ctx", dockerfile: "Dockerfile")
            #expect(second != first)
            #expect(second == (try LocalHost().contextHash(dir + "/ctx", dockerfile: "Dockerfile")), "the same digest as a full read")
            #expect(index.saves == 2)
        }
    }

    /// Two services may build one folder with different Dockerfiles, which keep different files.
    @Test func oneFolderBuiltWithTwoDockerfilesKeepsTwoDigests() throws {
        let dir = CLI.temporaryDirectory("devstack-monitor")
        try write("FROM scratch\n", to: dir + "/ctx/api.Dockerfile")
        try write("FROM scratch\nCOPY . /\n", to: dir + "/ctx/web.Dockerfile")
        try write("*.Dockerfile\n", to: dir + "/ctx/.dockerignore")
        try serving(in: dir) { socket in
            let host = LocalHost(contextIndex: MemoryIndex(), contextMonitor: ContextMonitorSocket.Client(socketPath: socket))
            let api = try LocalHost().contextHash(dir + "/ctx", dockerfile: "api.Dockerfile")
            let web = try LocalHost().contextHash(dir + "/ctx", dockerfile: "web.Dockerfile")
            #expect(api != web)
            for _ in 0..<2 {
                #expect(try host.contextHash(dir + "/ctx", dockerfile: "api.Dockerfile") == api)
                #expect(try host.contextHash(dir + "/ctx", dockerfile: "web.Dockerfile") == web)
            }
        }
    }

    @Test func theSocketIsTheOwnersAndOnlyASocketItMadeIsReplaced() throws {
        let dir = CLI.temporaryDirectory("devstack-monitor")
        var info = stat()
        try serving(in: dir) { socket in
            #expect(lstat(socket, &info) == 0)
            #expect(info.st_mode & 0o777 == 0o600)
            #expect(throws: ContextMonitorSocket.Failure.self) { try ContextMonitorServer(path: socket) }
            #expect(ContextMonitorSocket.ask(socket, folder: dir, dockerfile: "Dockerfile") != nil, "the first monitor still answers")
            #expect(ContextMonitorSocket.ask(socket, folder: "relative/path", dockerfile: "Dockerfile") == nil)
        }
        #expect(access(dir + "/state.db.fsmonitor", F_OK) != 0, "a stopped monitor removes its socket")
        // Something else at the path is left exactly as it is.
        try write("not a socket", to: dir + "/state.db.fsmonitor")
        do {
            _ = try ContextMonitorServer(path: dir + "/state.db.fsmonitor")
            Issue.record("a regular file at the socket path was replaced")
        } catch {
            #expect("\(error)" == "\(dir)/state.db.fsmonitor exists and is not a socket; refusing to replace it (remove it if it is yours)")
        }
        #expect(FileManager.default.contents(atPath: dir + "/state.db.fsmonitor") == Data("not a socket".utf8))
        #expect(symlink("/etc/passwd", dir + "/link.fsmonitor") == 0)
        #expect(throws: ContextMonitorSocket.Failure.self) { try ContextMonitorServer(path: dir + "/link.fsmonitor") }
        #expect(FileManager.default.contents(atPath: "/etc/passwd") != nil)
        // A socket left by a monitor that is gone is replaced.
        do { _ = try ContextMonitorServer(path: dir + "/stale.fsmonitor") }
        #expect(lstat(dir + "/stale.fsmonitor", &info) == 0 && info.st_mode & S_IFMT == S_IFSOCK, "a socket nobody answers on")
        try serving(in: dir, name: "stale.fsmonitor") { #expect(ContextMonitorSocket.ask($0, folder: dir, dockerfile: "Dockerfile") != nil) }
        // Without a monitor an apply walks, as before.
        #expect(ContextMonitorSocket.ask(dir + "/nobody.fsmonitor", folder: dir, dockerfile: "Dockerfile") == nil)
    }
}
