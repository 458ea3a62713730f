import Foundation
import NIOCore
import NIOPosix
import NIOSSL
import Reconciler

/// A remote engine, made local: a unix socket in a private folder (0700) that this process
/// listens on, each connection carried to the engine over TLS (`tcp://`) or through the system's
/// ssh to the remote `docker system dial-stdio` (`ssh://`, as the docker CLI does it). Everything
/// that speaks to the engine — requests, streams, the hijacked terminals — keeps speaking HTTP
/// on a unix socket and never knows the difference.
final class EngineProxy: @unchecked Sendable {
    let endpoint: EngineEndpoint
    let socketPath: String
    let folder: String
    private let failures = FailureBox()
    private var channel: Channel?

    private static let lock = NSLock()
    nonisolated(unsafe) private static var running: [EngineEndpoint: EngineProxy] = [:]

    /// The proxy for `endpoint`, started on first use and kept for the life of the process.
    static func shared(for endpoint: EngineEndpoint, environment: [String: String]) throws -> EngineProxy {
        lock.lock()
        defer { lock.unlock() }
        if let proxy = running[endpoint] { return proxy }
        let proxy = try EngineProxy(endpoint, environment: environment)
        running[endpoint] = proxy
        return proxy
    }

    /// Why the last connection to the engine failed, for the message of the request that saw it.
    var failure: String? { failures.last }

    private init(_ endpoint: EngineEndpoint, environment: [String: String]) throws {
        self.endpoint = endpoint
        folder = NSTemporaryDirectory() + "devstack-engine-\(getpid())-\(UInt32.random(in: 0...UInt32.max))"
        guard mkdir(folder, 0o700) == 0 else { throw EngineError(.unreachable, "cannot create \(folder) for the engine connection: \(String(cString: strerror(errno)))") }
        socketPath = folder + "/engine.sock"
        let failures = self.failures
        let upstream = try Self.upstream(for: endpoint, environment: environment, report: { failures.record($0) })
        let bootstrap = ServerBootstrap(group: MultiThreadedEventLoopGroup.singleton)
            .childChannelOption(.allowRemoteHalfClosure, value: true)
            // The accepted connection starts reading only once this future completes: after the
            // engine's side is connected and glued to it.
            .childChannelInitializer { inbound in
                upstream(inbound.eventLoop).flatMap { outbound in
                    let (mine, theirs) = GlueHandler.pair()
                    return inbound.pipeline.addHandler(mine).flatMap { outbound.pipeline.addHandler(theirs) }
                }.flatMapErrorThrowing { error in
                    failures.record(EngineProxy.describe(error))
                    throw error
                }
            }
        do { channel = try bootstrap.bind(unixDomainSocketPath: socketPath).wait() } catch {
            throw EngineError(.unreachable, "cannot listen on \(socketPath) for the engine connection: \(error)")
        }
        EngineProxy.cleanUpAtExit(folder)
    }

    static func describe(_ error: Error) -> String {
        let text = String(describing: error)
        if text.contains("CERTIFICATE_VERIFY_FAILED") { return "its TLS certificate is not trusted by the CA in DOCKER_CERT_PATH (certificate verify failed)" }
        if error is NIOSSLError || text.contains("SSL") { return "TLS failed: \(text.prefix(160))" }
        if text.contains("Connection refused") || text.contains("connectionRefused") { return "connection refused" }
        return String(text.prefix(200))
    }

    typealias Upstream = @Sendable (EventLoop) -> EventLoopFuture<Channel>

    static func upstream(for endpoint: EngineEndpoint, environment: [String: String], report: @escaping @Sendable (String) -> Void) throws -> Upstream {
        switch endpoint {
        case let .unix(path):
            return { loop in ClientBootstrap(group: loop).channelOption(.allowRemoteHalfClosure, value: true).connect(unixDomainSocketPath: path) }
        case let .tcp(host, port, tls):
            guard let tls else {
                return { loop in ClientBootstrap(group: loop).channelOption(.allowRemoteHalfClosure, value: true).connect(host: host, port: port) }
            }
            let context = try tlsContext(tls, display: endpoint.display)
            let serverName = host.allSatisfy { $0.isNumber || $0 == "." || $0 == ":" } ? nil : host
            return { loop in
                ClientBootstrap(group: loop).channelOption(.allowRemoteHalfClosure, value: true).channelInitializer { channel in
                    channel.eventLoop.makeCompletedFuture {
                        try channel.pipeline.syncOperations.addHandler(NIOSSLClientHandler(context: context, serverHostname: serverName))
                        // The handshake fails after the connection is up: say why to whoever asks.
                        try channel.pipeline.syncOperations.addHandler(ErrorRecorder(report: report))
                    }
                }.connect(host: host, port: port)
            }
        case let .ssh(user, host, port):
            let ssh = try SSHDialer(user: user, host: host, port: port, environment: environment)
            return { loop in ssh.dial(on: loop, report: report) }
        }
    }

    static func tlsContext(_ files: EngineEndpoint.TLSFiles, display: String) throws -> NIOSSLContext {
        var configuration = TLSConfiguration.makeClientConfiguration()
        func load<T>(_ path: String?, _ what: String, _ body: (String) throws -> T) throws -> T? {
            guard let path else { return nil }
            guard FileManager.default.isReadableFile(atPath: path) else {
                throw EngineError(.badRequest, "\(display): cannot read the TLS \(what) \(path) (DOCKER_CERT_PATH holds ca.pem, cert.pem and key.pem)")
            }
            do { return try body(path) } catch { throw EngineError(.badRequest, "\(display): \(path) is not a PEM \(what)") }
        }
        if let ca = try load(files.ca, "CA certificate", { try NIOSSLCertificate.fromPEMFile($0) }), files.verify {
            configuration.trustRoots = .certificates(ca)
        }
        if let chain = try load(files.cert, "client certificate", { try NIOSSLCertificate.fromPEMFile($0) }) {
            configuration.certificateChain = chain.map { .certificate($0) }
        }
        if let key = try load(files.key, "client key", { try NIOSSLPrivateKey(file: $0, format: .pem) }) {
            configuration.privateKey = .privateKey(key)
        }
        if !files.verify { configuration.certificateVerification = .none }
        do { return try NIOSSLContext(configuration: configuration) } catch {
            throw EngineError(.badRequest, "\(display): the TLS settings are unusable: \(error)")
        }
    }

    private static let exitLock = NSLock()
    nonisolated(unsafe) private static var foldersToRemove: [String] = []

    static func cleanUpAtExit(_ folder: String) {
        exitLock.withLock {
            if foldersToRemove.isEmpty {
                atexit {
                    for folder in EngineProxy.foldersToRemove {
                        unlink(folder + "/engine.sock")
                        rmdir(folder)
                    }
                }
            }
            foldersToRemove.append(folder)
        }
    }
}

/// One `ssh … docker system dial-stdio` per connection, its stdin and stdout the connection: how
/// the docker CLI reaches an `ssh://` engine. The user's ssh configuration and known hosts apply
/// (`BatchMode`: an unknown host key or a password prompt fails instead of waiting);
/// `DEVSTACK_SSH_CONFIG` names another configuration file.
struct SSHDialer: Sendable {
    let arguments: [String]
    let executable: String

    /// `forward` ("ADDRESS:PORT" as the remote machine sees it): ssh's own stdio forwarding
    /// (`-W`) to that address instead of the engine, for `devstack tunnel`.
    init(user: String?, host: String, port: Int?, environment: [String: String], forward: String? = nil) throws {
        let paths = (environment["PATH"] ?? "/usr/bin:/bin").split(separator: ":").map { "\($0)/ssh" }
        guard let ssh = paths.first(where: { FileManager.default.isExecutableFile(atPath: $0) }) else {
            throw EngineError(.unreachable, "DOCKER_HOST=ssh://…: the ssh client is not on PATH (Debian: apt-get install openssh-client)")
        }
        executable = ssh
        var arguments = ["-o", "BatchMode=yes", "-o", "StrictHostKeyChecking=yes", "-o", "ConnectTimeout=10"]
        if let config = environment["DEVSTACK_SSH_CONFIG"], !config.isEmpty { arguments += ["-F", config] }
        if let port { arguments += ["-p", String(port)] }
        if let user { arguments += ["-l", user] }
        if let forward { arguments += ["-W", forward, "--", host] } else { arguments += ["--", host, "docker", "system", "dial-stdio"] }
        self.arguments = arguments
    }

    /// `report` hears what ssh said when it failed (an unknown host key, a refused login).
    func dial(on loop: EventLoop, report: @escaping @Sendable (String) -> Void) -> EventLoopFuture<Channel> {
        let input: (read: Int32, write: Int32), output: (read: Int32, write: Int32), errors: (read: Int32, write: Int32)
        let child: ChildProcess
        do {
            input = try ChildProcess.pipe()
            output = try ChildProcess.pipe()
            errors = try ChildProcess.pipe()
            child = try ChildProcess.spawn(executable, arguments, stdin: input.read, stdout: output.write, stderr: errors.write)
        } catch {
            return loop.makeFailedFuture(EngineError(.unreachable, "cannot run \(executable): \(error)"))
        }
        // The pipes' other ends belong to ssh now.
        close(input.read)
        close(output.write)
        close(errors.write)
        Thread.detachNewThread {
            let said = FileHandle(fileDescriptor: errors.read, closeOnDealloc: true).readDataToEndOfFile()
            let status = child.wait()
            let text = String(decoding: said, as: UTF8.self).trimmingCharacters(in: .whitespacesAndNewlines)
            let last = text.components(separatedBy: .newlines).map { $0.trimmingCharacters(in: .whitespaces) }.last { !$0.isEmpty }
            if status != 0, let last { report("ssh: \(last)") }
        }
        return NIOPipeBootstrap(group: loop).channelOption(.allowRemoteHalfClosure, value: true)
            .takingOwnershipOfDescriptors(input: output.read, output: input.write)
            .map { channel in
                channel.closeFuture.whenComplete { _ in child.terminate() }
                return channel
            }
    }
}

/// A child process started with posix_spawn rather than Foundation's `Process`. ssh closes every
/// descriptor it inherits as it starts, which Foundation's `Process` on Linux takes for the
/// child's exit: its one monitoring thread then blocks in waitpid until ssh really exits, and
/// no other process's exit is noticed meanwhile. The child also starts with no signal blocked
/// and default handlers (dispatch's worker threads block nearly every signal, and a child
/// inherits its spawning thread's mask).
final class ChildProcess: @unchecked Sendable {
    struct SpawnError: Error, CustomStringConvertible {
        var description: String
    }

    let pid: pid_t
    private let lock = NSLock()
    private var reaped = false

    private init(pid: pid_t) { self.pid = pid }

    /// A one-way channel whose ends are closed on exec, atomically (another thread may be
    /// spawning at the same moment): the child gets only the copies made for it. A socket pair,
    /// since Glibc's module does not export pipe2.
    static func pipe() throws -> (read: Int32, write: Int32) {
        var fds: [Int32] = [0, 0]
        guard socketpair(AF_UNIX, Int32(SOCK_STREAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0, &fds) == 0 else {
            throw SpawnError(description: String(cString: strerror(errno)))
        }
        shutdown(fds[0], Int32(SHUT_WR))
        shutdown(fds[1], Int32(SHUT_RD))
        return (fds[0], fds[1])
    }

    static func spawn(_ executable: String, _ arguments: [String], stdin: Int32, stdout: Int32, stderr: Int32) throws -> ChildProcess {
        var actions = posix_spawn_file_actions_t()
        posix_spawn_file_actions_init(&actions)
        defer { posix_spawn_file_actions_destroy(&actions) }
        posix_spawn_file_actions_adddup2(&actions, stdin, 0)
        posix_spawn_file_actions_adddup2(&actions, stdout, 1)
        posix_spawn_file_actions_adddup2(&actions, stderr, 2)
        var attributes = posix_spawnattr_t()
        posix_spawnattr_init(&attributes)
        defer { posix_spawnattr_destroy(&attributes) }
        var none = sigset_t(), all = sigset_t()
        sigemptyset(&none)
        sigfillset(&all)
        posix_spawnattr_setsigmask(&attributes, &none)
        posix_spawnattr_setsigdefault(&attributes, &all)
        posix_spawnattr_setflags(&attributes, Int16(POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF))
        let argv: [UnsafeMutablePointer<CChar>?] = ([executable] + arguments).map { strdup($0) } + [nil]
        defer { argv.forEach { free($0) } }
        var pid: pid_t = 0
        let result = posix_spawn(&pid, executable, &actions, &attributes, argv, environ)
        guard result == 0 else { throw SpawnError(description: String(cString: strerror(result))) }
        return ChildProcess(pid: pid)
    }

    /// Blocks until the child exits; its exit status (128 + the signal when a signal ended it).
    func wait() -> Int32 {
        var status: Int32 = 0
        while waitpid(pid, &status, 0) < 0, errno == EINTR {}
        lock.withLock { reaped = true }
        let signal = status & 0x7f
        return signal == 0 ? (status >> 8) & 0xff : 128 + signal
    }

    /// SIGTERM, unless the child was already reaped (its pid may belong to someone else now).
    func terminate() {
        lock.withLock { if !reaped { _ = kill(pid, SIGTERM) } }
    }
}

/// Hears an error on the engine's side of a connection (a TLS handshake refused) and passes it on.
final class ErrorRecorder: ChannelInboundHandler, Sendable {
    typealias InboundIn = NIOAny
    let report: @Sendable (String) -> Void
    init(report: @escaping @Sendable (String) -> Void) { self.report = report }

    func errorCaught(context: ChannelHandlerContext, error: Error) {
        report(EngineProxy.describe(error))
        context.fireErrorCaught(error)
    }
}

/// The last reason a connection to the engine failed, shared with the connections' callbacks.
final class FailureBox: @unchecked Sendable {
    private let lock = NSLock()
    private var reason: String?
    var last: String? { lock.withLock { reason } }
    func record(_ text: String) { lock.withLock { reason = text } }
}

/// Carries bytes both ways between two channels, with back-pressure and half-closes: the
/// connection glue of swift-nio's own proxy example.
final class GlueHandler: ChannelDuplexHandler, @unchecked Sendable {
    typealias InboundIn = NIOAny
    typealias OutboundIn = NIOAny
    typealias OutboundOut = NIOAny

    private var partner: GlueHandler?
    private var context: ChannelHandlerContext?
    private var pendingRead = false

    static func pair() -> (GlueHandler, GlueHandler) {
        let first = GlueHandler(), second = GlueHandler()
        first.partner = second
        second.partner = first
        return (first, second)
    }

    private func partnerWrite(_ data: NIOAny) { context?.write(data, promise: nil) }
    private func partnerFlush() { context?.flush() }
    private func partnerWriteEOF() { context?.close(mode: .output, promise: nil) }
    private func partnerCloseFull() { context?.close(promise: nil) }
    private func partnerBecameWritable() {
        if pendingRead {
            pendingRead = false
            context?.read()
        }
    }
    private var partnerWritable: Bool { context?.channel.isWritable ?? false }

    func handlerAdded(context: ChannelHandlerContext) { self.context = context }

    func handlerRemoved(context: ChannelHandlerContext) {
        self.context = nil
        partner = nil
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) { partner?.partnerWrite(data) }
    func channelReadComplete(context: ChannelHandlerContext) { partner?.partnerFlush() }
    func channelInactive(context: ChannelHandlerContext) { partner?.partnerCloseFull() }

    func userInboundEventTriggered(context: ChannelHandlerContext, event: Any) {
        if let event = event as? ChannelEvent, case .inputClosed = event { partner?.partnerWriteEOF() }
    }

    func errorCaught(context: ChannelHandlerContext, error: Error) { partner?.partnerCloseFull() }

    func channelWritabilityChanged(context: ChannelHandlerContext) {
        if context.channel.isWritable { partner?.partnerBecameWritable() }
    }

    func read(context: ChannelHandlerContext) {
        if let partner, partner.partnerWritable {
            context.read()
        } else {
            pendingRead = true
        }
    }
}
