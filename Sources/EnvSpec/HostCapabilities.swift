/// What an environment asks of the machine it runs on, beyond its own containers: the lines a
/// person must read before running someone else's bundle. Pure: it looks only at the spec.
public struct HostCapability: Sendable, Equatable, CustomStringConvertible {
    public enum Kind: String, Sendable, CaseIterable {
        case engineSocket = "engine-socket"
        case bindOutsideProject = "bind-outside-project"
        case publicPort = "public-port"
        case secretFileOutsideProject = "secret-file-outside-project"
        case buildContextOutsideProject = "build-context-outside-project"
    }

    public var kind: Kind
    /// The JSON path in the spec that asks for it.
    public var path: String
    public var detail: String

    public var description: String { "\(path): \(detail)" }

    /// Every capability `spec` asks for, sorted by path.
    public static func of(_ spec: EnvironmentSpec) -> [HostCapability] {
        var out: [HostCapability] = []
        for name in spec.serviceNames {
            let service = spec.services[name]!
            for (i, mount) in service.volumes.enumerated() where mount.type == .bind {
                let path = "services.\(name).volumes[\(i)]"
                if isEngineSocket(mount.source) {
                    out.append(HostCapability(kind: .engineSocket, path: path,
                                              detail: "binds \(mount.source) into \(mount.target), which is or holds the Docker engine's socket: full control of this machine's containers, and so of the machine"))
                } else if mount.outsideProject || mount.source.hasPrefix("/") || PathMath.escapes(mount.source) {
                    out.append(HostCapability(kind: .bindOutsideProject, path: path,
                                              detail: "binds \(mount.source) from this machine into \(mount.target)\(mount.readOnly ? " (read-only)" : " (read-write)")"))
                }
            }
            for (i, port) in service.ports.enumerated() where !isLoopback(port.hostIP) {
                out.append(HostCapability(kind: .publicPort, path: "services.\(name).ports[\(i)]",
                                          detail: "publishes container port \(port.containerPort)/\(port.proto) on \(port.hostIP):\(port.hostPort.map(String.init) ?? "(any)"), reachable from other machines"))
            }
            if let build = service.build, build.context.hasPrefix("/") || PathMath.escapes(build.context) {
                out.append(HostCapability(kind: .buildContextOutsideProject, path: "services.\(name).build.context",
                                          detail: "sends the folder \(build.context) from this machine to the engine as a build context"))
            }
        }
        for name in spec.secrets.keys.sorted() {
            if case let .file(file) = spec.secrets[name]!, spec.secrets[name]!.isOutsideProject {
                out.append(HostCapability(kind: .secretFileOutsideProject, path: "secrets.\(name).fromFile",
                                          detail: "reads \(file) from this machine and hands its content to containers"))
            }
        }
        return out.sorted { $0.path < $1.path }
    }

    static func isEngineSocket(_ source: String) -> Bool {
        let normalized = PathMath.normalize(source)
        return normalized.hasSuffix("/docker.sock") || normalized.hasSuffix("/containerd.sock") || normalized.hasSuffix("/podman.sock")
            || ["/", "/var", "/var/run", "/run"].contains(normalized)
    }

    static func isLoopback(_ ip: String) -> Bool {
        ip.hasPrefix("127.") || ip == "::1" || ip == "localhost"
    }
}
