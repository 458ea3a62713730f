import Application
import EnvSpec
import Foundation
@testable import HostFiles
import Testing
import TestSupport

/// `.dockerignore` rules as the docker CLI applies them.
@Suite struct DockerIgnoreTests {
    @Test(arguments: [
        ("*.log", "app.log", true), ("*.log", "logs/app.log", false), ("**/*.log", "logs/deep/app.log", true),
        ("**/*.log", "app.log", true), ("node_modules", "node_modules/x/y.js", true), ("/build", "build/out.o", true),
        ("build", "src/build", false), ("docs/**", "docs/a/b.md", true), ("[ab].txt", "b.txt", true), ("[ab].txt", "c.txt", false),
        ("[!ab].txt", "c.txt", true), ("?.md", "a.md", true), ("?.md", "ab.md", false), ("./tmp/../cache", "cache/x", true),
        ("\\*.txt", "*.txt", true), ("\\*.txt", "a.txt", false), ("a*b", "a/b", false), ("src/**/test", "src/test", true),
    ])
    func patternsMatchAsDockerDoes(pattern: String, path: String, excluded: Bool) {
        #expect(DockerIgnore(text: pattern).excludes(path) == excluded)
    }

    @Test func theLastMatchingLineWinsAndCommentsAreSkipped() {
        let rules = DockerIgnore(text: "# generated\n*.log\n!keep.log\n\n  secrets/  \nDockerfile\n", keep: ["Dockerfile"])
        #expect(rules.excludes("app.log"))
        #expect(!rules.excludes("keep.log"))
        #expect(rules.excludes("secrets/key.pem"))
        #expect(!rules.excludes("Dockerfile"), "the Dockerfile is always sent")
        #expect(!rules.excludes("# generated"))
        #expect(rules.hasExceptions)
    }
}

/// The build-context index: only files whose metadata changed are read again.
@Suite struct BuildContextIndexTests {
    final class MemoryIndex: ContextIndexKeeping, @unchecked Sendable {
        var saved: [String: ContextIndex] = [:]
        var saves = 0
        var entryReads = 0
        func contextIndex(_ context: String, entries: Bool) throws -> ContextIndex? {
            guard var index = saved[context] else { return nil }
            if entries { entryReads += 1 } else { index.entries = [:] }
            return index
        }
        func saveContextIndex(_ context: String, _ index: ContextIndex) throws {
            saved[context] = index
            saves += 1
        }
        var canSaveContextIndex: Bool { true }
    }

    func write(_ text: String, to path: String, modified: Int = 1_600_000_000) throws {
        try FileManager.default.createDirectory(atPath: PathMath.directory(of: path), withIntermediateDirectories: true)
        try Data(text.utf8).write(to: URL(fileURLWithPath: path))
        var times = [timespec(tv_sec: modified, tv_nsec: 0), timespec(tv_sec: modified, tv_nsec: 0)]
        #expect(utimensat(AT_FDCWD, path, &times, 0) == 0)
    }

    @Test func anUnchangedFileIsNotReadAgainAndAChangedOneIs() throws {
        let dir = CLI.temporaryDirectory("devstack-ctx")
        try write("FROM scratch\n", to: dir + "/Dockerfile")
        try write("one", to: dir + "/src/a.txt")
        try write("two", to: dir + "/src/b.txt")
        let index = MemoryIndex()
        let host = LocalHost(contextIndex: index)
        let first = try host.contextHash(dir, dockerfile: "Dockerfile")
        #expect(index.saves == 1)
        #expect(index.saved.values.first?.entries.keys.sorted() == ["Dockerfile", "src/a.txt", "src/b.txt"])
        #expect(try host.contextHash(dir, dockerfile: "Dockerfile") == first)
        #expect(index.saves == 1, "nothing changed, so the index is not written again")
        #expect(index.entryReads == 0, "the same walk reuses the kept digest without reading the entries")

        // Same size, same mtime, same inode: the index is trusted, as git's is; the file is not read.
        try write("ONE", to: dir + "/src/a.txt")
        #expect(try host.contextHash(dir, dockerfile: "Dockerfile") == first)
        // A new modification time: read again, and the change is seen.
        try write("ONE", to: dir + "/src/a.txt", modified: 1_600_000_100)
        let second = try host.contextHash(dir, dockerfile: "Dockerfile")
        #expect(second != first)
        #expect(second == (try LocalHost().contextHash(dir, dockerfile: "Dockerfile")), "the index gives the same digest as a full read")
        #expect(index.saves == 2)
    }

    @Test func aFileModifiedJustNowIsHashedEveryTime() throws {
        let dir = CLI.temporaryDirectory("devstack-ctx")
        try write("FROM scratch\n", to: dir + "/Dockerfile")
        let now = Int(Date().timeIntervalSince1970)
        try write("abc", to: dir + "/hot.txt", modified: now)
        let host = LocalHost(contextIndex: MemoryIndex())
        let first = try host.contextHash(dir, dockerfile: "Dockerfile")
        // Racily clean: same size and mtime, different bytes, within the window: still seen.
        try write("abd", to: dir + "/hot.txt", modified: now)
        #expect(try host.contextHash(dir, dockerfile: "Dockerfile") != first)
    }

    @Test func ignoredFilesAndSymlinksAreNotPartOfTheContext() throws {
        let dir = CLI.temporaryDirectory("devstack-ctx")
        try write("FROM scratch\n", to: dir + "/Dockerfile")
        try write("node_modules\n*.log\nDockerfile\n", to: dir + "/.dockerignore")
        try write("app", to: dir + "/app.js")
        let host = LocalHost()
        let first = try host.contextHash(dir, dockerfile: "Dockerfile")
        try write("x", to: dir + "/node_modules/big/index.js")
        try write("x", to: dir + "/debug.log")
        #expect(symlink("/etc/passwd", dir + "/passwd") == 0)
        #expect(try host.contextHash(dir, dockerfile: "Dockerfile") == first)
        let listed = try ContextWalker.listing(dir, dockerfile: "Dockerfile").map(\.path)
        #expect(listed == [".dockerignore", "Dockerfile", "app.js"])
        try write("app2", to: dir + "/app.js", modified: 1_600_000_100)
        #expect(try host.contextHash(dir, dockerfile: "Dockerfile") != first)
    }

    @Test func aNewFileDeepInsideChangesTheDigestAndTheEntriesAreReadOnlyThen() throws {
        let dir = CLI.temporaryDirectory("devstack-ctx")
        try write("FROM scratch\n", to: dir + "/Dockerfile")
        try write("one", to: dir + "/a/b/c/one.txt")
        let index = MemoryIndex()
        let host = LocalHost(contextIndex: index)
        let first = try host.contextHash(dir, dockerfile: "Dockerfile")
        try write("two", to: dir + "/a/b/c/two.txt")
        let second = try host.contextHash(dir, dockerfile: "Dockerfile")
        #expect(second != first)
        #expect(index.entryReads == 1)
        #expect(second == (try LocalHost().contextHash(dir, dockerfile: "Dockerfile")))
        #expect(unlink(dir + "/a/b/c/two.txt") == 0)
        #expect(try host.contextHash(dir, dockerfile: "Dockerfile") == first, "a file removed again gives the first digest")
    }

    /// The walk lists on one thread and stats on all cores, in chunks: across chunk boundaries
    /// and folders the order must still be folders first, then what they hold, sorted.
    @Test func theWalkKeepsItsOrderAcrossChunksAndFolders() throws {
        let dir = CLI.temporaryDirectory("devstack-ctx")
        var expected: [String] = []
        for folder in ["b", "a", "a/z", "c"] {
            try FileManager.default.createDirectory(atPath: dir + "/" + folder, withIntermediateDirectories: true)
        }
        for i in 0..<3000 { try Data().write(to: URL(fileURLWithPath: dir + "/a/f\(i)")) }
        for i in 0..<3000 { try Data().write(to: URL(fileURLWithPath: dir + "/b/g\(i)")) }
        try Data().write(to: URL(fileURLWithPath: dir + "/a/z/last"))
        #expect(symlink("/etc", dir + "/c/link") == 0)
        func visit(_ prefix: String) {
            let names = ((try? FileManager.default.contentsOfDirectory(atPath: dir + "/" + prefix)) ?? []).sorted()
            for name in names {
                let relative = prefix.isEmpty ? name : prefix + "/" + name
                if name == "link" { continue }
                expected.append(relative)
                var isFolder: ObjCBool = false
                if FileManager.default.fileExists(atPath: dir + "/" + relative, isDirectory: &isFolder), isFolder.boolValue { visit(relative) }
            }
        }
        visit("")
        let walked = try ContextWalker.walk(dir, skip: { _ in false }, descend: { _ in false })
        #expect(walked.count == 6005)
        #expect(walked.map(\.path) == expected)
        #expect(walked.filter(\.isDirectory).map(\.path) == ["a", "a/z", "b", "c"])
    }

    @Test func theIndexRoundTripsAndRejectsOtherBytes() {
        let index = ContextIndex(entries: ["a b/c\n": .init(size: 3, modified: 17, inode: 9, sha256: "ab")], indexedAt: 42)
        #expect(ContextIndex(encoded: index.encoded(), indexedAt: 42) == index)
        #expect(ContextIndex(encoded: Data("x\0y\0".utf8), indexedAt: 1) == nil)
        #expect(ContextIndex(encoded: Data(), indexedAt: 1) == ContextIndex(indexedAt: 1))
    }
}

/// An idle controller hands back only pages that have another copy in the executable file.
@Suite struct ResidentMemoryTests {
    @Test func onlyCleanPrivateMappingsOfTheExecutableAreDropped() {
        let smaps = """
            55d0a0000000-55d0a2000000 r-xp 00000000 fe:00 123 /opt/devstack
            Rss:               19000 kB
            Anonymous:             0 kB
            55d0a2000000-55d0a2100000 r--p 02000000 fe:00 123 /opt/devstack
            Anonymous:          1172 kB
            55d0a2100000-55d0a2200000 rw-p 02100000 fe:00 123 /opt/devstack
            Anonymous:           392 kB
            7f0000000000-7f0000100000 r-xp 00000000 fe:00 456 /usr/lib/x86_64-linux-gnu/libc.so.6
            Anonymous:             0 kB
            7f0000200000-7f0000300000 r--s 00000000 fe:00 123 /opt/devstack
            Anonymous:             0 kB
            7ffd00000000-7ffd00021000 rw-p 00000000 00:00 0                          [stack]
            Anonymous:           132 kB
            """
        #expect(ResidentMemory.cleanMappings(smaps, of: "/opt/devstack") == [0x55d0a0000000..<0x55d0a2000000])
    }
}
