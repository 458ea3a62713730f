import Foundation

/// One file or folder of a build context, as a walk of the folder found it.
public struct ContextFile: Sendable, Equatable {
    /// Relative to the context folder, "/"-separated.
    public var path: String
    public var isDirectory: Bool
    public var size: Int
    /// Modification time in nanoseconds since 1970.
    public var modified: Int64
    public var inode: UInt64
    public var mode: Int

    public init(path: String, isDirectory: Bool, size: Int, modified: Int64, inode: UInt64, mode: Int) {
        self.path = path
        self.isDirectory = isDirectory
        self.size = size
        self.modified = modified
        self.inode = inode
        self.mode = mode
    }
}

/// What git keeps in its index, for one build context: each file's size, modification time and
/// inode with its digest, so only files whose metadata changed are read and hashed again.
public struct ContextIndex: Sendable, Equatable {
    public struct Entry: Sendable, Equatable {
        public var size: Int
        public var modified: Int64
        public var inode: UInt64
        public var sha256: String

        public init(size: Int, modified: Int64, inode: UInt64, sha256: String) {
            self.size = size
            self.modified = modified
            self.inode = inode
            self.sha256 = sha256
        }
    }

    public var entries: [String: Entry]
    /// When the digests were taken, in nanoseconds since 1970.
    public var indexedAt: Int64

    /// A file modified this close to the moment it was indexed is hashed again: a second write
    /// within the file system's timestamp granularity would leave its metadata unchanged
    /// ("racily clean", in git's words).
    public static let racyWindowNanos: Int64 = 2_000_000_000

    public init(entries: [String: Entry] = [:], indexedAt: Int64) {
        self.entries = entries
        self.indexedAt = indexedAt
    }

    /// The digest of `file` as indexed, when its size, modification time and inode are those
    /// recorded and it was not modified racily close to the indexing.
    public func knownDigest(_ file: ContextFile) -> String? {
        guard let entry = entries[file.path], entry.size == file.size, entry.modified == file.modified, entry.inode == file.inode,
              entry.modified < indexedAt - Self.racyWindowNanos else { return nil }
        return entry.sha256
    }

    /// Fields separated by NUL, which no path contains: path, size, mtime, inode, digest.
    public func encoded() -> Data {
        var out = [UInt8]()
        out.reserveCapacity(entries.count * 120)
        for (path, entry) in entries.sorted(by: { $0.key < $1.key }) {
            for field in [path, String(entry.size), String(entry.modified), String(entry.inode), entry.sha256] {
                out.append(contentsOf: field.utf8)
                out.append(0)
            }
        }
        return Data(out)
    }

    /// Nil for bytes of another shape: a damaged index is rebuilt, never trusted.
    public init?(encoded data: Data, indexedAt: Int64) {
        var entries: [String: Entry] = [:]
        let fields = data.split(separator: 0, omittingEmptySubsequences: false)
        guard fields.count % 5 == 1, fields.last?.isEmpty ?? false else { return nil }
        var index = fields.startIndex
        while index + 5 <= fields.count {
            let path = String(decoding: fields[index], as: UTF8.self)
            guard let size = Int(String(decoding: fields[index + 1], as: UTF8.self)),
                  let modified = Int64(String(decoding: fields[index + 2], as: UTF8.self)),
                  let inode = UInt64(String(decoding: fields[index + 3], as: UTF8.self)) else { return nil }
            entries[path] = Entry(size: size, modified: modified, inode: inode, sha256: String(decoding: fields[index + 4], as: UTF8.self))
            index += 5
        }
        self.init(entries: entries, indexedAt: indexedAt)
    }
}

/// The digest of a whole build context: SHA-256 over its files' sorted paths, digests and sizes.
/// It names the image devstack builds (a changed file, a new tag, a rebuild).
public enum ContextDigest {
    public static func combine(_ files: [(path: String, sha256: String, size: Int)]) -> String {
        CanonicalJSON.sha256(files.map { $0.path + "\0" + $0.sha256 + "\0" + String($0.size) }.sorted().joined(separator: "\n"))
    }
}
