import ArgumentParser
import EnvSpec
import Foundation
import StateStore
import Reconciler

extension Devstack {
    struct Export: ParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Write a revision as a verifiable bundle a teammate can import.")

        @Argument(help: "Revision number (the latest when left out).") var revision: Int?
        @Option(name: .shortAndLong, help: "The bundle file to write ('-' for standard output).") var output: String
        @Flag(name: .long, help: "Include the snapshot archives themselves, not only their digests.") var withData = false
        @OptionGroup var store: StoreOptions
        @OptionGroup var environment: EnvironmentOption

        func run() throws {
            let db = try store.openForReading()
            let env = try db.resolveEnvironment(environment.env)
            let stored = try db.revision(environment: env, number: revision)
            let bundle = try BundleContents.make(stored, store: db, withData: withData)
            if output == "-" { return print(bundle.text, terminator: "") }
            // A new export is private (it carries host values); an existing regular file keeps its
            // mode; a device or FIFO is written through; a folder is refused.
            try Files.writeOutput(Data(bundle.text.utf8), to: output, newFileMode: Files.privateFileMode)
            FileHandle.standardError.write(Data("exported revision \(stored.summary.number) of \(env) to \(output)\n".utf8))
        }
    }

    struct Import: ParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Verify a bundle and record it as a new revision (history is never rewritten).")

        @Argument(help: "The bundle file.") var file: String
        @Option(name: .shortAndLong, help: "A message for the new revision.") var message: String?
        @Flag(name: .long, help: "Accept what the bundle asks of this machine (binds outside the project, the engine socket, ports on other addresses, secret files, build contexts); it is listed first and recorded with the revision.")
        var allowHostAccess = false
        @OptionGroup var store: StoreOptions

        func run() throws {
            let text: String
            do { text = try LocalFiles.readText(file, limit: 2 << 30) } catch {
                throw UserError("\(file): cannot read the bundle: \(LocalFiles.reason(error))", exitCode: 2)
            }
            var (bundle, provenance) = try ExportBundle.read(text, file: file)
            if !bundle.provenanceVerified {
                Terminal.warn("\(file) was written by an older devstack: its message, author and exporter are not covered by a hash")
            }
            // Someone else's bundle is someone else's code: what it asks of this machine is shown,
            // and it needs consent before anything is recorded.
            let capabilities = HostCapability.of(bundle.spec)
            if !capabilities.isEmpty {
                Terminal.note("\(file) asks this machine for:")
                for capability in capabilities { Terminal.note("  \(capability)") }
                guard allowHostAccess else {
                    throw UserError("\(file): the bundle asks for \(capabilities.count) host capabilit\(capabilities.count == 1 ? "y" : "ies") (listed above); nothing was imported. Read them, then run again with --allow-host-access to accept them", exitCode: 2)
                }
                provenance = ExportBundle.provenance(provenance, acceptingHostAccess: capabilities.map(\.description))
            }
            let db = try store.open()
            let meta = RevisionMeta.local(message: message ?? "import of revision \(bundle.revision.number) by \(bundle.revision.author)@\(bundle.revision.host)",
                                          source: .import, provenance: provenance)
            let outcome = try db.record(bundle.spec, meta: meta)
            switch outcome {
            case let .recorded(s): print("imported \(file) as revision \(s.number) of \(s.environment)")
            case let .unchanged(s): print("no changes: revision \(s.number) of \(s.environment) already has this desired state")
            }
            let env = outcome.summary.environment
            try db.recordLock(environment: env, revision: outcome.summary.number, bundle.lock)
            if !bundle.lock.isEmpty { print("locked \(bundle.lock.count) image(s) to the digests they ran as on \(bundle.revision.host)") }
            for snapshot in bundle.snapshots where snapshot.volumes.allSatisfy({ bundle.archives["\(snapshot.name)/\($0.volume)"] != nil }) {
                if try db.snapshots(environment: env).contains(where: { $0.name == snapshot.name }) {
                    Terminal.warn("snapshot \(snapshot.name) already exists here; the imported one was not kept")
                    continue
                }
                for volume in snapshot.volumes {
                    let path = PathMath.join(db.snapshotsDirectory, volume.archive)
                    try Files.createPrivateFolder(PathMath.directory(of: path))
                    try Files.writePrivate(bundle.archives["\(snapshot.name)/\(volume.volume)"]!, to: path)
                }
                var imported = snapshot
                imported.revision = outcome.summary.number
                try db.recordSnapshot(environment: env, imported)
                print("imported snapshot \(snapshot.name) (\(snapshot.volumes.map(\.volume).joined(separator: ", ")))")
            }
        }
    }
}

/// What an export carries beyond the spec: the lock, the seed ledger, the snapshots.
enum BundleContents {
    static func make(_ stored: StoredRevision, store db: StateStore, withData: Bool) throws -> ExportBundle {
        let env = stored.summary.environment
        let meta = RevisionMeta.local(source: .apply)
        var bundle = ExportBundle(revision: stored, exportedBy: meta.author, exportedFrom: meta.host)
        bundle.lock = try lock(stored, store: db)
        bundle.seeds = try seeds(stored, store: db)
        bundle.snapshots = try db.snapshots(environment: env)
        if withData {
            for snapshot in bundle.snapshots {
                for volume in snapshot.volumes {
                    let path = PathMath.join(db.snapshotsDirectory, volume.archive)
                    guard let data = FileManager.default.contents(atPath: path), CanonicalJSON.sha256(data) == volume.sha256 else {
                        throw UserError("snapshot \(snapshot.name): the archive \(path) is missing or does not match its sha256; devstack doctor shows which")
                    }
                    bundle.archives["\(snapshot.name)/\(volume.volume)"] = data
                }
            }
        }
        return bundle
    }

    /// The revision's own lock, or else the newest digests recorded for its images.
    static func lock(_ stored: StoredRevision, store db: StateStore) throws -> [String: ImageLock] {
        let env = stored.summary.environment
        let own = try db.lock(environment: env, revision: stored.summary.number)
        guard own.isEmpty else { return own }
        return try db.latestLocks(environment: env, upTo: stored.summary.number).filter { stored.spec.services[$0.key]?.image == $0.value.reference }
    }

    /// The ledger's last run of each seed the revision declares.
    static func seeds(_ stored: StoredRevision, store db: StateStore) throws -> [String: ExportBundle.SeedState] {
        try db.seedLedger(environment: stored.summary.environment).filter { stored.spec.seeds[$0.key] != nil }
            .mapValues { ExportBundle.SeedState(checksum: $0.checksum, status: $0.status, revision: $0.revision) }
    }
}
