import Foundation
import Synchronization

public struct CLIResult: Sendable {
    public var code: Int32
    public var stdout: String
    public var stderr: String
    public var output: String { stdout + stderr }
}

/// Runs the built `devstack` binary, as a user would, and other commands by argument array.
public enum CLI {
    /// The binary built next to the test bundle.
    public static var binary: String {
        let exe = (try? FileManager.default.destinationOfSymbolicLink(atPath: "/proc/self/exe")) ?? CommandLine.arguments[0]
        var dir = URL(fileURLWithPath: exe).deletingLastPathComponent()
        if dir.lastPathComponent == "MacOS" || dir.pathExtension == "xctest" { dir = dir.deletingLastPathComponent() }
        return dir.appendingPathComponent("devstack").path
    }

    public static var packageRoot: URL {
        URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
    }

    @discardableResult
    public static func devstack(_ arguments: [String], environment: [String: String] = [:], cwd: String? = nil) -> CLIResult {
        run(binary, arguments, environment: environment, cwd: cwd)
    }

    @discardableResult
    public static func run(_ executable: String, _ arguments: [String], environment: [String: String] = [:], cwd: String? = nil) -> CLIResult {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: executable.hasPrefix("/") ? executable : "/usr/bin/env")
        process.arguments = executable.hasPrefix("/") ? arguments : [executable] + arguments
        var env = ProcessInfo.processInfo.environment
        env["NO_COLOR"] = "1"
        for (k, v) in environment { env[k] = v }
        process.environment = env
        if let cwd { process.currentDirectoryURL = URL(fileURLWithPath: cwd) }
        // Files rather than pipes: a chatty child can never block on a full pipe.
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("devstack-cli-\(UUID().uuidString)")
        try? FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: dir) }
        let outURL = dir.appendingPathComponent("out"), errURL = dir.appendingPathComponent("err")
        FileManager.default.createFile(atPath: outURL.path, contents: nil)
        FileManager.default.createFile(atPath: errURL.path, contents: nil)
        guard let out = try? FileHandle(forWritingTo: outURL), let err = try? FileHandle(forWritingTo: errURL) else {
            return CLIResult(code: 127, stdout: "", stderr: "cannot create output files")
        }
        process.standardOutput = out
        process.standardError = err
        process.standardInput = FileHandle.nullDevice
        do { try process.run() } catch {
            return CLIResult(code: 127, stdout: "", stderr: "cannot run \(executable): \(error)")
        }
        process.waitUntilExit()
        try? out.close()
        try? err.close()
        let outData = (try? Data(contentsOf: outURL)) ?? Data()
        let errData = (try? Data(contentsOf: errURL)) ?? Data()
        return CLIResult(code: process.terminationStatus, stdout: String(decoding: outData, as: UTF8.self), stderr: String(decoding: errData, as: UTF8.self))
    }

    /// A fresh folder, removed when the test process exits (whether or not the test did).
    public static func temporaryDirectory(_ prefix: String = "devstack-test") -> String {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("\(prefix)-\(UUID().uuidString.prefix(8))").path
        try? FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        TemporaryFolders.remember(dir)
        return dir
    }

    public static func write(_ text: String, to path: String) {
        try? FileManager.default.createDirectory(atPath: URL(fileURLWithPath: path).deletingLastPathComponent().path, withIntermediateDirectories: true)
        try? Data(text.utf8).write(to: URL(fileURLWithPath: path))
    }
}

/// The folders tests made, removed at exit: a test that fails half-way leaves nothing in /tmp.
enum TemporaryFolders {
    static let made = Mutex<[String]>([])
    static let cleanUpAtExit: Void = {
        atexit {
            for folder in TemporaryFolders.made.withLock({ $0 }) { try? FileManager.default.removeItem(atPath: folder) }
        }
    }()

    static func remember(_ folder: String) {
        _ = cleanUpAtExit
        made.withLock { $0.append(folder) }
    }
}
