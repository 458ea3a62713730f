import Foundation

/// SIGINT and SIGTERM ask a long-running command to stop (`stop` runs on a global queue) instead
/// of killing it: a controller finishes its pass and releases the lease, a monitor removes its
/// socket. Keep the result until the command returns; dropping it restores nothing else.
enum StopSignals {
    static func handle(_ stop: @escaping @Sendable () -> Void) -> [DispatchSourceSignal] {
        [SIGINT, SIGTERM].map { signalNumber -> DispatchSourceSignal in
            signal(signalNumber, SIG_IGN)
            let source = DispatchSource.makeSignalSource(signal: signalNumber, queue: .global())
            source.setEventHandler(handler: stop)
            source.resume()
            return source
        }
    }
}
