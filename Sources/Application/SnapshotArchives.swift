import EnvSpec
import Foundation
import HostFiles
import Reconciler
import StateStore

/// A snapshot archive on disk, read piece by piece: the compressed bytes are hashed and inflated
/// as they pass, so restoring a volume of any size needs memory for one piece only. A plain tar
/// (no gzip magic) passes through as it is.
final class ArchiveReader: @unchecked Sendable {
    static let pieceSize = 1 << 20
    let handle: FileHandle
    var hasher = CanonicalJSON.Hasher()
    var inflater: Gzip.Inflater?
    var started = false
    var atEnd = false
    /// Compressed bytes read, and tar bytes handed on, so far.
    private(set) var bytesRead = 0
    private(set) var bytesOut = 0
    var meter: TransferMeter?

    init(path: String) throws {
        handle = try LocalFiles.openRegular(path)
    }

    /// The next piece of the tar archive; nil at its end.
    func next() throws -> Data? {
        let piece = try nextPiece()
        bytesOut += piece?.count ?? 0
        meter?.moved(bytesOut)
        return piece
    }

    private func nextPiece() throws -> Data? {
        while true {
            if let inflater, let piece = try inflater.take() { return piece }
            if atEnd {
                if let inflater, !inflater.finished { throw Gzip.Failure(description: "not a valid gzip archive (it ends early)") }
                return nil
            }
            let piece = try handle.read(upToCount: Self.pieceSize) ?? Data()
            guard !piece.isEmpty else {
                atEnd = true
                continue
            }
            hasher.update(piece)
            bytesRead += piece.count
            if !started {
                started = true
                if piece.starts(with: [0x1f, 0x8b]) { inflater = try Gzip.Inflater() }
            }
            guard let inflater else { return piece }
            try inflater.give(piece)
        }
    }

    /// Reads what is left without inflating it, for the digest alone.
    func drain() throws {
        while let piece = try handle.read(upToCount: Self.pieceSize), !piece.isEmpty {
            hasher.update(piece)
            bytesRead += piece.count
        }
        atEnd = true
    }

    var sha256: String { hasher.finalize() }

    /// The pieces as the engine pulls them.
    var chunks: ByteChunks { ByteChunks(unfolding: { try self.next() }) }
}

/// Writes a snapshot archive piece by piece as the engine sends the volume's tar: checked entry
/// by entry, gzip-compressed and hashed on the way, under a temporary name until it is whole.
final class ArchiveWriter {
    let file: Files.AtomicFile
    let deflater: Gzip.Deflater
    var validator = Tar.Validator(allowRelativeLinks: true)
    var hasher = CanonicalJSON.Hasher()
    /// Compressed bytes written, and tar bytes taken in.
    private(set) var bytesWritten = 0
    private(set) var bytesTaken = 0

    init(path: String) throws {
        file = try Files.AtomicFile(privateAt: path)
        // Level 3 of 9: a snapshot is local working data, where time matters more than the last
        // few per cent of size (measured in docs/performance.md).
        deflater = try Gzip.Deflater(level: 3)
    }

    func write(_ tar: Data) throws {
        try validator.feed(tar)
        bytesTaken += tar.count
        try append(try deflater.push(tar))
    }

    /// Ends the gzip stream and puts the file in place; returns its digest.
    func commit() throws -> String {
        try append(try deflater.finish())
        try file.commit()
        return hasher.finalize()
    }

    private func append(_ compressed: Data) throws {
        guard !compressed.isEmpty else { return }
        hasher.update(compressed)
        bytesWritten += compressed.count
        try file.write(compressed)
    }
}

/// Bytes moved so far, for a progress line; reported at most a few times a second.
struct TransferMeter {
    let label: String
    let sink: ProgressSink?
    let total: Int?
    let started = ContinuousClock.now
    var lastReport = ContinuousClock.now

    init(_ label: String, sink: ProgressSink?, total: Int? = nil) {
        self.label = label
        self.sink = sink
        self.total = total
    }

    mutating func moved(_ bytes: Int) {
        let now = ContinuousClock.now
        guard let sink, now - lastReport >= .milliseconds(250) else { return }
        lastReport = now
        sink(.transfer(Transfer(label: label, bytes: bytes, elapsed: now - started, finished: false, total: total)))
    }

    func finished(_ bytes: Int) {
        sink?(.transfer(Transfer(label: label, bytes: bytes, elapsed: ContinuousClock.now - started, finished: true, total: total)))
    }
}
