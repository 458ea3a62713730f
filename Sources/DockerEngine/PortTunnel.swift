import Foundation
import NIOCore
import NIOPosix
import Reconciler

/// A remote engine's published ports, brought to this machine's loopback: each connection to
/// 127.0.0.1:LOCAL is carried to the port on the engine's machine — through ssh's own stdio
/// forwarding (`ssh -W`) for an `ssh://` engine, as the engine connection itself goes, or
/// straight to the engine's host for a `tcp://` one.
public final class PortTunnel: @unchecked Sendable {
    public struct Forward: Sendable, Equatable {
        public var localPort: Int
        /// The published port as the engine reports it: its address on the engine's machine.
        public var hostIP: String
        public var hostPort: Int
        public init(localPort: Int, hostIP: String, hostPort: Int) {
            self.localPort = localPort
            self.hostIP = hostIP
            self.hostPort = hostPort
        }
    }

    private let channels: [Channel]

    private init(channels: [Channel]) { self.channels = channels }

    /// Where a published port is reached from here, or why it cannot be (pure: the rule).
    public static func target(of forward: Forward, endpoint: EngineEndpoint) throws -> (address: String, port: Int) {
        let wildcard = ["", "0.0.0.0", "::"].contains(forward.hostIP)
        switch endpoint {
        case .unix:
            throw EngineError(.badRequest, "the engine runs on this machine (\(endpoint.display)): its published ports are here already")
        case let .tcp(host, _, _):
            if wildcard { return (host, forward.hostPort) }
            if forward.hostIP.hasPrefix("127.") || forward.hostIP == "::1" {
                throw EngineError(.badRequest, "port \(forward.hostPort) is bound to \(forward.hostIP) on \(host): only that machine reaches it; publish it on another address, or use an ssh:// engine, whose tunnel runs on that machine")
            }
            return (forward.hostIP, forward.hostPort)
        case .ssh:
            return (wildcard ? "127.0.0.1" : forward.hostIP, forward.hostPort)
        }
    }

    /// Listens on 127.0.0.1 for every forward; a local port that is taken is an error naming it.
    public static func open(_ forwards: [Forward], environment: [String: String] = ProcessInfo.processInfo.environment) throws -> PortTunnel {
        let endpoint = try EngineEndpoint.resolve(environment: environment)
        var channels: [Channel] = []
        do {
            for forward in forwards {
                let (address, port) = try target(of: forward, endpoint: endpoint)
                let upstream: EngineProxy.Upstream
                if case let .ssh(user, host, sshPort) = endpoint {
                    let ssh = try SSHDialer(user: user, host: host, port: sshPort, environment: environment,
                                            forward: address.contains(":") ? "[\(address)]:\(port)" : "\(address):\(port)")
                    upstream = { loop in ssh.dial(on: loop, report: { _ in }) }
                } else {
                    upstream = { loop in ClientBootstrap(group: loop).channelOption(.allowRemoteHalfClosure, value: true).connect(host: address, port: port) }
                }
                let bootstrap = ServerBootstrap(group: MultiThreadedEventLoopGroup.singleton)
                    .serverChannelOption(.socketOption(.so_reuseaddr), value: 1)
                    .childChannelOption(.allowRemoteHalfClosure, value: true)
                    .childChannelInitializer { inbound in
                        upstream(inbound.eventLoop).flatMap { outbound in
                            let (mine, theirs) = GlueHandler.pair()
                            return inbound.pipeline.addHandler(mine).flatMap { outbound.pipeline.addHandler(theirs) }
                        }
                    }
                do { channels.append(try bootstrap.bind(host: "127.0.0.1", port: forward.localPort).wait()) } catch {
                    throw EngineError(.conflict, "cannot listen on 127.0.0.1:\(forward.localPort) (\(error)): is it taken? Choose others with --port-offset")
                }
            }
        } catch {
            for channel in channels { try? channel.close().wait() }
            throw error
        }
        return PortTunnel(channels: channels)
    }

    /// Until the listeners close (the process is interrupted).
    public func wait() async throws {
        for channel in channels { try await channel.closeFuture.get() }
    }
}
