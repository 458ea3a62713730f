import Application
import ArgumentParser
import Dashboard
import Foundation

/// Where the dashboard listens: loopback unless told otherwise, and told twice.
struct DashboardOptions: ParsableArguments {
    @Option(name: .long, help: "Port on 127.0.0.1 (a free one when left out).") var port: Int = 0
    @Option(name: .long, help: ArgumentHelp("Address to listen on instead of 127.0.0.1; needs --allow-remote.", valueName: "ADDR")) var listen: String?
    @Flag(name: .long, help: "Allow --listen on an address other machines can reach.") var allowRemote = false

    mutating func validate() throws {
        try NumericOption.check(port, "--port", 0...65535)
        if let listen, !["127.0.0.1", "localhost", "::1"].contains(listen), !allowRemote {
            throw ValidationError("--listen \(listen) would let other machines reach the dashboard: add --allow-remote to mean it")
        }
    }

    func server(workspace: Workspace, environment: String, settings: ConvergeSettings) -> DashboardServer {
        let host = listen ?? "127.0.0.1"
        return DashboardServer(workspace: workspace, environment: environment, access: DashboardAccess(extraHosts: listen.map { [$0] } ?? []),
                               host: host == "localhost" ? "127.0.0.1" : host, port: port, settings: settings)
    }

    static func announce(_ url: String) {
        print("dashboard: \(url)")
        Terminal.note("open it in a browser; the token in the address is the key (it moves into a cookie). Ctrl-C stops.")
        Terminal.flush()
    }
}

extension Devstack {
    struct UI: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "ui",
            abstract: "Serve a live dashboard of the environment on 127.0.0.1, behind a random token.")

        @OptionGroup var dashboard: DashboardOptions
        @OptionGroup var converge: ConvergeOptions
        @OptionGroup var store: StoreOptions
        @OptionGroup var environment: EnvironmentOption

        func run() async throws {
            let workspace = try store.openExisting()
            let env = try workspace.environment(environment.env)
            try await dashboard.server(workspace: workspace, environment: env, settings: converge.settings).run(ready: DashboardOptions.announce)
        }
    }
}
