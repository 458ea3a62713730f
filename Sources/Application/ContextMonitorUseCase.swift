import Foundation
import HostFiles

/// `devstack fsmonitor`: answers, for as long as it runs, whether anything changed in the build
/// contexts applies ask about (`ContextMonitor`), on a socket beside the state database. Applies
/// find it by that path; without it they walk every context, as before.
public final class ContextMonitorUseCase: Sendable {
    private let server: ContextMonitorServer

    /// Makes the socket for the state database at `storePath` (and its folder, owner only, when
    /// it is missing). Refused when a monitor already answers there or the path holds anything
    /// that is not a socket.
    public init(storePath: String) throws {
        let folder = (storePath as NSString).deletingLastPathComponent
        if !folder.isEmpty, !FileManager.default.fileExists(atPath: folder) {
            try? FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true, attributes: [.posixPermissions: 0o700])
        }
        do { server = try ContextMonitorServer(path: ContextMonitorSocket.path(forStore: storePath)) } catch {
            throw UseCaseError("\(error)")
        }
    }

    public var socketPath: String { server.path }

    /// Serves until `requestStop`; the socket is removed then.
    public func run() async {
        await withCheckedContinuation { (done: CheckedContinuation<Void, Never>) in
            let thread = Thread { [server] in
                server.serve()
                done.resume()
            }
            thread.start()
        }
    }

    public func requestStop() { server.stop() }
}
