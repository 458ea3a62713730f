// swift-tools-version:6.1
import PackageDescription

let package = Package(
    name: "devstack",
    platforms: [.macOS(.v15)],
    products: [
        .executable(name: "devstack", targets: ["devstack"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-argument-parser.git", from: "1.8.2"),
        .package(url: "https://github.com/groue/GRDB.swift.git", from: "7.10.0"),
        .package(url: "https://github.com/apple/swift-crypto.git", from: "4.5.2"),
        .package(url: "https://github.com/swift-server/async-http-client.git", from: "1.37.0"),
        .package(url: "https://github.com/apple/swift-nio.git", from: "2.101.2"),
        .package(url: "https://github.com/apple/swift-nio-ssl.git", from: "2.37.6"),
        .package(url: "https://github.com/hummingbird-project/hummingbird.git", from: "2.28.1"),
    ],
    targets: [
        // The dependency picture (docs/architecture.md): CLI → Application → (StateStore,
        // DockerEngine, Reconciler) → EnvSpec. The core (EnvSpec, Reconciler) links nothing that
        // does I/O; the Docker adapter does not link GRDB; SQL lives only in StateStore.
        //
        // The environment model: parsing, validation, canonical form, hashing, and the value types
        // of recorded state. File access is injected.
        .target(name: "EnvSpec", dependencies: [.product(name: "Crypto", package: "swift-crypto")]),
        // This machine's files, read with care (regular files, size limits, real paths), and the
        // live environment loader.
        .target(name: "HostFiles", dependencies: ["EnvSpec"]),
        // SQLite: migrations, revisions, events.
        .target(name: "StateStore", dependencies: ["EnvSpec", "HostFiles", .product(name: "GRDB", package: "GRDB.swift")]),
        // Docker Engine API client over the unix socket (a remote engine, tcp+TLS or ssh, through a
        // private local socket); the live ContainerEngine. Knows the core's engine protocol only.
        .target(name: "DockerEngine", dependencies: [
            "HostFiles",
            "Reconciler",
            .product(name: "AsyncHTTPClient", package: "async-http-client"),
            .product(name: "NIOCore", package: "swift-nio"),
            .product(name: "NIOHTTP1", package: "swift-nio"),
            .product(name: "NIOPosix", package: "swift-nio"),
            .product(name: "NIOSSL", package: "swift-nio-ssl"),
            .product(name: "Crypto", package: "swift-crypto"),
        ]),
        // OCI registries over the distribution API (TLS, Basic and Bearer auth, docker's
        // credentials): environments and snapshots travel as artifacts. Knows no store.
        .target(name: "Registry", dependencies: [
            "EnvSpec", "HostFiles",
            .product(name: "AsyncHTTPClient", package: "async-http-client"),
            .product(name: "NIOCore", package: "swift-nio"),
            .product(name: "NIOHTTP1", package: "swift-nio"),
            .product(name: "NIOSSL", package: "swift-nio-ssl"),
        ]),
        // docker compose files → environment files, with a warning for everything not carried over.
        // YAML through the system libyaml's event parser: no recursion, bounded, never a crash.
        .target(name: "ComposeImport", dependencies: ["EnvSpec", "HostFiles", "CLibYAML"]),
        .systemLibrary(name: "CLibYAML", path: "Sources/CLibYAML", providers: [.apt(["libyaml-dev"])]),
        // The system zlib, for gzip-compressed snapshot archives.
        .systemLibrary(name: "CZlib", path: "Sources/CZlib", providers: [.apt(["zlib1g-dev"])]),
        // The core: observe → plan (pure) → execute, and the controller, against protocols
        // (engine, records, leases, timeline). Imports no store.
        .target(name: "Reconciler", dependencies: ["EnvSpec", "CZlib", .product(name: "Crypto", package: "swift-crypto")]),
        // The application layer: one type per use case, wiring the store, the engine and the
        // host; the CLI and the dashboard both call it.
        .target(name: "Application", dependencies: ["EnvSpec", "HostFiles", "StateStore", "Reconciler", "DockerEngine", "ComposeImport", "Registry"]),
        // The web dashboard (`devstack ui`): pages and actions over the same use cases as the CLI,
        // served by Hummingbird on loopback behind a token.
        .target(name: "Dashboard", dependencies: [
            "Application", "EnvSpec", "Reconciler", "StateStore",
            .product(name: "Hummingbird", package: "hummingbird"),
            .product(name: "Crypto", package: "swift-crypto"),
        ]),
        // The CLI: argument parsing and rendering over the application layer.
        .executableTarget(name: "devstack", dependencies: [
            "Application", "Dashboard", "EnvSpec", "HostFiles", "Reconciler", "ComposeImport",
            .product(name: "ArgumentParser", package: "swift-argument-parser"),
        ], linkerSettings: [
            // The release binary is a fixed-address executable, as compose v2's and the docker
            // CLI's static binaries are: a position-independent one spends a fifth of a no-op
            // apply in the dynamic loader, applying 144,000 relocations to Swift's metadata
            // (docs/performance.md, "Start-up").
            .unsafeFlags(["-Xclang-linker", "-no-pie"], .when(configuration: .release)),
        ]),
        // Fills a store with many revisions and times the CLI against it: scripts/bench-store.
        .executableTarget(name: "StoreBenchmark", dependencies: ["EnvSpec", "StateStore", .product(name: "GRDB", package: "GRDB.swift")]),
        // Runs mutated inputs through the parsers in a child process, so that SignalFuzzTests can
        // observe and count crashes (a crash cannot be counted from inside the process).
        .executableTarget(name: "devstack-fuzz", dependencies: ["EnvSpec", "HostFiles", "ComposeImport", "StateStore", "TestSupport"], path: "Tests/FuzzDriver"),
        // Shared by the test targets: the in-memory fake engine and a runner for the built binary.
        .target(name: "TestSupport", dependencies: ["Reconciler", "EnvSpec"], path: "Tests/TestSupport"),
        .testTarget(name: "EnvSpecTests", dependencies: ["EnvSpec", "TestSupport"]),
        .testTarget(name: "ComposeImportTests", dependencies: ["ComposeImport", "EnvSpec", "HostFiles"], exclude: ["Fixtures"]),
        .testTarget(name: "StateStoreTests", dependencies: ["StateStore", "EnvSpec"]),
        .testTarget(name: "ReconcilerTests", dependencies: ["Reconciler", "EnvSpec", "StateStore", "Application", "DockerEngine", "TestSupport"]),
        // The dashboard's routes in-process: pages, actions and refusals.
        .testTarget(name: "DashboardTests", dependencies: ["Dashboard", "Application", "EnvSpec", "StateStore", "TestSupport",
                                                           .product(name: "HummingbirdTesting", package: "hummingbird")]),
        // End-to-end: the built binary, and the real dockerd.
        .testTarget(name: "IntegrationTests", dependencies: ["DockerEngine", "Reconciler", "EnvSpec", "StateStore", "Application", "TestSupport"],
                    exclude: ["Fixtures"]),
    ]
)
