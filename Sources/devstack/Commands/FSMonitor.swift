import Application
import ArgumentParser
import Foundation

extension Devstack {
    struct FSMonitor: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "fsmonitor",
            abstract: "Watch build contexts so a no-op apply asks instead of walking them (like git's fsmonitor daemon); runs until interrupted.")

        @OptionGroup var store: StoreOptions

        func run() async throws {
            let monitor = try ContextMonitorUseCase(storePath: store.path)
            // SIGINT and SIGTERM stop it and remove its socket.
            let signals = StopSignals.handle { monitor.requestStop() }
            defer { signals.forEach { $0.cancel() } }
            print("fsmonitor: answering at \(monitor.socketPath); applies with this state database skip walks of unchanged build contexts")
            Terminal.flush()
            await monitor.run()
        }
    }
}
