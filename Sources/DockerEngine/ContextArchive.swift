import EnvSpec
import Foundation
import HostFiles
import Reconciler

/// A build context folder as the tar archive the engine's build endpoint takes, streamed: the
/// files `.dockerignore` keeps (and the Dockerfile), folders before their contents, in sorted
/// order with their modes, each read in pieces as the engine asks for more.
enum ContextArchive {
    static func chunks(directory: String, dockerfile: String) throws -> ByteChunks {
        let producer = Producer(directory: directory, files: try ContextWalker.listing(directory, dockerfile: dockerfile))
        return ByteChunks(unfolding: { try producer.next() })
    }

    /// Walks the listing one entry at a time; pulled by one task at a time.
    final class Producer: @unchecked Sendable {
        static let pieceSize = 1 << 20
        let directory: String
        let files: [ContextFile]
        var index = 0
        var open: (handle: FileHandle, file: ContextFile, remaining: Int)?
        var ended = false

        init(directory: String, files: [ContextFile]) {
            self.directory = directory
            self.files = files
        }

        func next() throws -> Data? {
            if let current = open {
                let piece = try current.handle.read(upToCount: min(Self.pieceSize, current.remaining)) ?? Data()
                guard !piece.isEmpty else {
                    throw ContextWalker.Failure(description: "\(directory)/\(current.file.path) shrank while the build context was being sent; run the build again")
                }
                let remaining = current.remaining - piece.count
                if remaining > 0 {
                    open = (current.handle, current.file, remaining)
                    return piece
                }
                try? current.handle.close()
                open = nil
                return piece + Tar.padding(current.file.size)
            }
            guard index < files.count else {
                if ended { return nil }
                ended = true
                return Tar.end
            }
            let file = files[index]
            index += 1
            let header = try Tar.entryHeader(name: file.path, size: file.isDirectory ? 0 : file.size, mode: file.mode, directory: file.isDirectory)
            if !file.isDirectory && file.size > 0 {
                do { open = (try LocalFiles.openRegular(directory + "/" + file.path), file, file.size) } catch {
                    throw ContextWalker.Failure(description: "cannot read \(directory)/\(file.path) of the build context: \(LocalFiles.reason(error))")
                }
            }
            return header
        }
    }
}
