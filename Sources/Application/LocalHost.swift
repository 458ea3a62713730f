import HostFiles
import EnvSpec
import Foundation
import Reconciler

/// The live machine.
public struct LocalHost: HostAccess {
    public var environment: [String: String]
    public init(environment: [String: String] = ProcessInfo.processInfo.environment) { self.environment = environment }

    public var workingDirectory: String { FileManager.default.currentDirectoryPath }

    public func readSecret(_ source: SecretSource, projectDirectory: String) throws -> String {
        switch source {
        case let .environment(name):
            guard let value = environment[name] else { throw HostError("environment variable \(name) is not set") }
            return value
        case let .file(path):
            let full = PathMath.join(projectDirectory, path)
            if !source.isOutsideProject { try Self.checkStaysInside(full, projectDirectory: projectDirectory) }
            guard let data = FileManager.default.contents(atPath: full), let text = String(data: data, encoding: .utf8) else {
                throw HostError("cannot read \(full)")
            }
            // A trailing newline is an editor's habit, not part of the secret.
            return text.hasSuffix("\n") ? String(text.dropLast()) : text
        }
    }

    public func readProjectFile(_ path: String, projectDirectory: String) throws -> Data {
        let full = PathMath.join(projectDirectory, path)
        try Self.checkStaysInside(full, projectDirectory: projectDirectory)
        guard let data = FileManager.default.contents(atPath: full) else { throw HostError("cannot read \(full)") }
        return data
    }

    /// Checked again when the file is read, not only when the environment was validated: a
    /// symlink swapped in between still cannot lead out of the project folder.
    static func checkStaysInside(_ full: String, projectDirectory: String) throws {
        guard PathMath.isInside(projectDirectory, full), let real = LocalFiles.realPath(full) else { return }
        let realProject = LocalFiles.realPath(projectDirectory) ?? projectDirectory
        guard PathMath.isInside(realProject, real) else {
            throw HostError("\(full) resolves to \(real), outside the project folder \(realProject): refused")
        }
    }

    /// SHA-256 over the sorted relative paths and contents of every file in the folder.
    public func contextHash(_ directory: String) throws -> String {
        guard let walker = FileManager.default.enumerator(atPath: directory) else { throw HostError("cannot read build context \(directory)") }
        var parts: [String] = []
        for case let relative as String in walker {
            let full = directory + "/" + relative
            var isDir: ObjCBool = false
            guard FileManager.default.fileExists(atPath: full, isDirectory: &isDir), !isDir.boolValue else { continue }
            let data = FileManager.default.contents(atPath: full) ?? Data()
            parts.append(relative + "\0" + CanonicalJSON.sha256(data) + "\0" + String(data.count))
        }
        return CanonicalJSON.sha256(parts.sorted().joined(separator: "\n"))
    }

    /// Binds the port for a moment: if that fails, someone else holds it.
    public func isPortFree(hostIP: String, port: Int, proto: String) -> Bool {
        let type: Int32 = proto == "udp" ? Int32(SOCK_DGRAM.rawValue) : Int32(SOCK_STREAM.rawValue)
        let fd = socket(AF_INET, type, 0)
        guard fd >= 0 else { return true }
        defer { close(fd) }
        var addr = sockaddr_in()
        addr.sin_family = sa_family_t(AF_INET)
        addr.sin_port = in_port_t(UInt16(port).bigEndian)
        addr.sin_addr.s_addr = inet_addr(hostIP)
        let result = withUnsafePointer(to: &addr) { ptr in
            ptr.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
        }
        return result == 0
    }
}
