import Application
import ArgumentParser
import Foundation

extension Devstack {
    struct Tunnel: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "tunnel",
            abstract: "Forward a remote engine's published ports to 127.0.0.1 on this machine, until Ctrl-C.")

        @Argument(help: "Services (all when left out).") var services: [String] = []
        @Option(name: .long, help: "Listen on each published port plus N (negative allowed), when the same numbers are taken here.")
        var portOffset: Int = 0
        @OptionGroup var store: StoreOptions
        @OptionGroup var environment: EnvironmentOption

        mutating func validate() throws { try NumericOption.check(portOffset, "--port-offset", -65535...65535) }

        func run() async throws {
            let workspace = try store.openForReading()
            let env = try workspace.environment(environment.env)
            let tunnel = try await TunnelUseCase.open(workspace: workspace, environment: env, services: services, offset: portOffset)
            for forward in tunnel.forwards {
                print("\(forward.service): http://127.0.0.1:\(forward.local) → \(forward.remote)")
            }
            Terminal.flush()
            Terminal.note("Ctrl-C closes the tunnel.")
            try await tunnel.wait()
        }
    }
}
