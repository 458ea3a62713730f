import Application
import ArgumentParser

/// Flags shared by the commands that converge the engine.
struct ConvergeOptions: ParsableArguments {
    @Option(name: .long, help: "Give up converging after this many seconds.") var timeout: Int = 300
    @Option(name: .long, help: "How many engine operations run at once (default: the level this engine's measured throughput chooses; devstack doctor shows it).") var parallel: Int?
    @Flag(name: .long, help: "When a controller holds the environment, return once the revision is recorded.") var noWait = false
    @Flag(name: .long, help: "Run images by the digests recorded when they were last applied or imported (the lock), even if their tags moved.") var locked = false

    mutating func validate() throws {
        try NumericOption.check(timeout, "--timeout", 1...NumericOption.maxSeconds)
        if let parallel { try NumericOption.check(parallel, "--parallel", 1...256) }
    }

    var settings: ConvergeSettings { ConvergeSettings(timeoutSeconds: timeout, parallel: parallel, noWait: noWait, locked: locked) }
}

extension Devstack {
    struct Seed: AsyncParsableCommand {
        static let configuration = CommandConfiguration(commandName: "seed", abstract: "Run seeds now; unchanged seeds that succeeded are skipped unless --force.")

        @Argument(help: "Seeds to run (all when left out).") var seeds: [String] = []
        @Flag(name: .long, help: "Run even when the ledger says the seed is unchanged.") var force = false
        @OptionGroup var store: StoreOptions
        @OptionGroup var environment: EnvironmentOption

        func run() async throws {
            let workspace = try store.openExisting()
            try await SeedUseCase.run(workspace: workspace, environment: try workspace.environment(environment.env), seeds: Set(seeds),
                                      force: force, sink: Output.sink())
        }
    }
}
