import EnvSpec
import Foundation
import HostFiles

/// Credentials the way the docker CLI finds them: `$DOCKER_CONFIG/config.json` (else
/// `~/.docker/config.json`) with its `auths`, `credsStore` and `credHelpers`; a helper is
/// `docker-credential-NAME get` on PATH. Read when a registry first asks, held in memory only.
public struct RegistryCredentials: Sendable {
    public enum Credential: Sendable, Equatable {
        case basic(username: String, password: String)
        case identityToken(String)
    }

    let environment: [String: String]

    public init(environment: [String: String]) { self.environment = environment }

    var configFile: String {
        if let folder = environment["DOCKER_CONFIG"], !folder.isEmpty { return PathMath.join(folder, "config.json") }
        return PathMath.join(environment["HOME"] ?? NSHomeDirectory(), ".docker/config.json")
    }

    func config() throws -> DockerConfig? {
        let file = configFile
        guard FileManager.default.fileExists(atPath: file) else { return nil }
        let data: Data
        do { data = try LocalFiles.readData(file, limit: 16 << 20) } catch {
            throw RegistryError(.invalid, "\(file): cannot read docker's configuration: \(LocalFiles.reason(error))")
        }
        do { return try DockerConfig.parse(data, file: file) } catch { throw RegistryError(.invalid, "\(error)") }
    }

    public func credential(for registry: String) throws -> Credential? {
        guard let source = try config()?.source(for: registry) else { return nil }
        switch source {
        case let .basic(username, password): return .basic(username: username, password: password)
        case let .identityToken(token): return .identityToken(token)
        case let .helper(name, server): return try helper(name, server: server)
        }
    }

    /// Runs `docker-credential-NAME get`: the server address in, `{"Username", "Secret"}` out.
    func helper(_ name: String, server: String) throws -> Credential? {
        guard name.allSatisfy({ $0.isLetter || $0.isNumber || $0 == "-" || $0 == "_" || $0 == "." }) else {
            throw RegistryError(.invalid, "\(configFile): the credential helper name \"\(name)\" is not a plain name")
        }
        let program = "docker-credential-\(name)"
        let paths = (environment["PATH"] ?? "/usr/local/bin:/usr/bin:/bin").split(separator: ":").map { PathMath.join(String($0), program) }
        guard let executable = paths.first(where: { FileManager.default.isExecutableFile(atPath: $0) }) else {
            throw RegistryError(.invalid, "\(configFile) names the credential helper \"\(name)\", but \(program) is not on PATH")
        }
        let process = Process()
        process.executableURL = URL(fileURLWithPath: executable)
        process.arguments = ["get"]
        process.environment = environment
        let input = Pipe(), output = Pipe(), errors = Pipe()
        process.standardInput = input
        process.standardOutput = output
        process.standardError = errors
        do { try process.run() } catch { throw RegistryError(.invalid, "cannot run \(executable): \(error.localizedDescription)") }
        input.fileHandleForWriting.write(Data(server.utf8))
        try? input.fileHandleForWriting.close()
        let answer = output.fileHandleForReading.readDataToEndOfFile()
        _ = errors.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        let text = String(decoding: answer, as: UTF8.self)
        guard process.terminationStatus == 0 else {
            if text.lowercased().contains("credentials not found") { return nil }
            throw RegistryError(.invalid, "\(program) get failed (exit \(process.terminationStatus)) for \(server)")
        }
        guard let node = try? JSONParser.parse(text), case let .string(username)? = node["Username"]?.value, case let .string(secret)? = node["Secret"]?.value else {
            throw RegistryError(.invalid, "\(program) get answered something other than {\"Username\", \"Secret\"}")
        }
        return username == "<token>" ? .identityToken(secret) : .basic(username: username, password: secret)
    }
}
