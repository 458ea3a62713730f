import EnvSpec
import Foundation

/// Reads and writes a named volume's files through a helper container that is created and never
/// started: the engine itself copies files in and out, so the image needs no tar or shell.
public struct VolumeAccess: Sendable {
    public let engine: any ContainerEngine
    public let desired: DesiredState
    static let mountPoint = "/devstack-volume"

    public init(engine: any ContainerEngine, desired: DesiredState) {
        self.engine = engine
        self.desired = desired
    }

    public struct NoOwner: Error, CustomStringConvertible, Sendable {
        public var volume: String
        public var description: String { "no service of the environment mounts volume \"\(volume)\"" }
    }

    /// Services whose containers mount one of `volumes` (names from the environment file).
    public func users(of volumes: Set<String>) -> [String] {
        let engineNames = Set(volumes.map { Naming.volume(desired.environment, $0) })
        return desired.workloads.values.filter { $0.mounts.contains { $0.type == .volume && engineNames.contains($0.source) } }.map(\.service).sorted()
    }

    /// The image of a service that mounts the volume is present, so the helper needs no pull.
    func helper(_ volume: String, purpose: String) throws -> Workload {
        let engineName = Naming.volume(desired.environment, volume)
        guard let owner = desired.workloads.values.sorted(by: { $0.service < $1.service })
            .first(where: { $0.mounts.contains { $0.source == engineName } }) else { throw NoOwner(volume: volume) }
        var helper = owner.helper(named: "\(desired.environment)-\(purpose)-\(volume)", purpose: purpose)
        helper.mounts = [MountSpec(type: .volume, source: engineName, target: Self.mountPoint)]
        return helper
    }

    func withHelper<T: Sendable>(_ volume: String, purpose: String, _ body: (String) async throws -> T) async throws -> T {
        let workload = try helper(volume, purpose: purpose)
        try? await engine.removeContainer(workload.name)
        let id = try await engine.createContainer(workload)
        do {
            let result = try await body(id)
            try? await engine.removeContainer(id)
            return result
        } catch {
            try? await engine.removeContainer(id)
            throw error
        }
    }

    /// Extracts a tar archive into the volume; entries are relative to the volume's root.
    public func write(_ volume: String, archive: Data, purpose: String) async throws {
        try Tar.validate(archive, allowRelativeLinks: true)
        try await withHelper(volume, purpose: purpose) { id in
            try await engine.putArchive(id, path: Self.mountPoint, archive: archive)
        }
    }

    /// Extracts an archive pulled piece by piece into the volume (a snapshot of any size); each
    /// piece's entries are checked before it is passed on to the engine.
    public func write(_ volume: String, chunks: ByteChunks, purpose: String) async throws {
        let checked = Tar.checking(chunks, allowRelativeLinks: true)
        try await withHelper(volume, purpose: purpose) { id in
            try await engine.putArchive(id, path: Self.mountPoint, chunks: checked)
        }
    }

    /// The volume's files as a tar archive handed to `sink` piece by piece as the engine sends it.
    public func read(_ volume: String, purpose: String, into sink: (Data) async throws -> Void) async throws {
        try await withHelper(volume, purpose: purpose) { id in
            try await engine.getArchive(id, path: Self.mountPoint + "/.", into: sink)
        }
    }

    /// The volume's files as a tar archive, entries relative to the volume's root.
    public func read(_ volume: String, purpose: String) async throws -> Data {
        try await withHelper(volume, purpose: purpose) { id in
            try await engine.getArchive(id, path: Self.mountPoint + "/.")
        }
    }
}
