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
    /// What the walk saw when the index was taken (`fingerprint(of:)`) and the context digest it
    /// gave: the next walk with the same fingerprint reuses the digest without a look at the
    /// entries. Nil in an index written before they were kept.
    public var fingerprint: String?
    public var digest: String?

    /// A file modified this close to the moment it was indexed is hashed again: a second write
    /// within the file system's timestamp granularity would leave its metadata unchanged
    /// ("racily clean", in git's words).
    public static let racyWindowNanos: Int64 = 2_000_000_000

    public init(entries: [String: Entry] = [:], indexedAt: Int64, fingerprint: String? = nil, digest: String? = nil) {
        self.entries = entries
        self.indexedAt = indexedAt
        self.fingerprint = fingerprint
        self.digest = digest
    }

    /// SHA-256 over every walked path with its kind, size, modification time, inode and mode:
    /// equal fingerprints mean the walk found the same files with the same metadata.
    public static func fingerprint(of files: [ContextFile]) -> String {
        var hasher = CanonicalJSON.Hasher()
        var buffer = [UInt8]()
        buffer.reserveCapacity(1 << 16)
        for file in files {
            buffer.append(contentsOf: file.path.utf8)
            buffer.append(0)
            for number in [UInt64(file.isDirectory ? 1 : 0), UInt64(truncatingIfNeeded: file.size), UInt64(bitPattern: file.modified), file.inode,
                           UInt64(truncatingIfNeeded: file.mode)] {
                withUnsafeBytes(of: number.littleEndian) { buffer.append(contentsOf: $0) }
            }
            if buffer.count >= 1 << 16 - 512 {
                hasher.update(buffer)
                buffer.removeAll(keepingCapacity: true)
            }
        }
        hasher.update(buffer)
        return hasher.finalize()
    }

    /// The digest kept with the index, when `files` are exactly the files it was taken from and
    /// none was modified racily close to the indexing.
    public func knownContextDigest(_ files: [ContextFile], fingerprint: String) -> String? {
        guard let digest, self.fingerprint == fingerprint,
              files.allSatisfy({ $0.isDirectory || $0.modified < indexedAt - Self.racyWindowNanos }) else { return nil }
        return digest
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

    /// Nil for bytes of another shape: a damaged index is rebuilt, never trusted. Read field by
    /// field over the raw bytes, since every apply of a 50,000-file context reads it whole.
    public init?(encoded data: Data, indexedAt: Int64) {
        let parsed: [String: Entry]? = data.withUnsafeBytes { raw -> [String: Entry]? in
            let bytes = raw.bindMemory(to: UInt8.self)
            var entries: [String: Entry] = [:]
            entries.reserveCapacity(bytes.count / 100)
            var position = 0
            /// The next NUL-terminated field, as a range of `bytes`.
            func field() -> Range<Int>? {
                guard let end = bytes[position...].firstIndex(of: 0) else { return nil }
                defer { position = end + 1 }
                return position..<end
            }
            func number(_ range: Range<Int>) -> UInt64? {
                guard !range.isEmpty, range.count <= 19 else { return nil }
                var value: UInt64 = 0
                for index in range {
                    let digit = bytes[index] &- UInt8(ascii: "0")
                    guard digit <= 9 else { return nil }
                    value = value * 10 + UInt64(digit)
                }
                return value
            }
            while position < bytes.count {
                guard let path = field(), let size = field().flatMap(number), let modified = field().flatMap(number),
                      let inode = field().flatMap(number), let digest = field(), size <= UInt64(Int.max), modified <= UInt64(Int64.max) else { return nil }
                entries[String(decoding: UnsafeBufferPointer(rebasing: bytes[path]), as: UTF8.self)] =
                    Entry(size: Int(size), modified: Int64(modified), inode: inode, sha256: String(decoding: UnsafeBufferPointer(rebasing: bytes[digest]), as: UTF8.self))
            }
            return entries
        }
        guard let parsed else { return nil }
        self.init(entries: parsed, indexedAt: indexedAt)
    }
}

/// The digest of a whole build context: SHA-256 over its files' sorted paths, digests and sizes.
/// It names the image devstack builds (a changed file, a new tag, a rebuild).
public enum ContextDigest {
    public static func combine(_ files: [(path: String, sha256: String, size: Int)]) -> String {
        CanonicalJSON.sha256(files.map { $0.path + "\0" + $0.sha256 + "\0" + String($0.size) }.sorted().joined(separator: "\n"))
    }
}
