import EnvSpec
import Foundation

/// Writes ustar archives (build contexts, seed files) and checks archives before they are
/// extracted: no absolute paths, no "..", no links or devices. Symbolic links in a folder are
/// skipped when archiving, so a context cannot reach outside itself.
public enum Tar {
    struct TooLong: Error, CustomStringConvertible {
        var path: String
        var description: String { "build context path too long for a tar header: \(path)" }
    }

    /// One file, for copying a seed's input into a container.
    public static func single(name: String, contents: Data, mode: Int = 0o644) throws -> Data {
        var out = Data()
        try appendFile(into: &out, name: name, contents: contents, mode: mode)
        out.append(Data(count: 1024))
        return out
    }

    /// Files at absolute container paths, with their parent folders, for extracting at "/".
    public static func files(_ files: [(path: String, contents: Data, mode: Int)]) throws -> Data {
        var out = Data()
        var folders = Set<String>()
        for file in files.sorted(by: { $0.path < $1.path }) {
            let parts = PathMath.components(file.path)
            for depth in parts.indices.dropLast() {
                let folder = parts[...depth].joined(separator: "/") + "/"
                if folders.insert(folder).inserted { try header(into: &out, name: folder, size: 0, mode: 0o755, type: "5") }
            }
            try appendFile(into: &out, name: parts.joined(separator: "/"), contents: file.contents, mode: file.mode)
        }
        out.append(Data(count: 1024))
        return out
    }

    public struct UnsafeEntry: Error, CustomStringConvertible, Sendable {
        public var name: String
        public var reason: String
        public var description: String { "archive entry \"\(name)\" \(reason): refusing to extract it" }
    }

    /// Names of the entries; throws on anything that could land outside the target folder.
    /// `allowRelativeLinks` admits symbolic links whose target stays inside the archive's root, as
    /// found in real volumes; hard links, absolute or climbing targets are refused either way.
    @discardableResult
    public static func validate(_ archive: Data, allowRelativeLinks: Bool = false) throws -> [String] {
        var validator = Validator(allowRelativeLinks: allowRelativeLinks, keepNames: true)
        try validator.feed(archive)
        return validator.names
    }

    /// Checks an archive as it streams past, piece by piece, holding one header block and at
    /// most one long name or pax header at a time. A piece is fed before it is passed on, so an
    /// unsafe entry's header is refused before it is complete downstream.
    public struct Validator: Sendable {
        public let allowRelativeLinks: Bool
        let keepNames: Bool
        public private(set) var names: [String] = []
        /// Entries checked so far.
        public private(set) var entries = 0
        /// Two zero blocks (or one, as some writers end) were seen: the rest is padding.
        var ended = false
        var header = [UInt8]()
        /// Bytes of entry data (plus padding) still to pass before the next header.
        var skip = 0
        /// The data of a long-name, long-link or pax entry, collected because it names the next entry.
        var meta: (type: UInt8, remaining: Int, padding: Int, bytes: [UInt8])?
        var longName: String?
        var longLink: String?
        /// A pax "size" record: the next entry's size, when its header field cannot hold it.
        var longSize: Int?
        /// Long names and pax headers larger than this are refused instead of collected.
        static let maxMetaBytes = 1 << 20

        public init(allowRelativeLinks: Bool = false, keepNames: Bool = false) {
            self.allowRelativeLinks = allowRelativeLinks
            self.keepNames = keepNames
        }

        public mutating func feed(_ data: Data) throws {
            var index = data.startIndex
            while index < data.endIndex {
                if ended { return }
                if skip > 0 {
                    let step = min(skip, data.endIndex - index)
                    skip -= step
                    index += step
                    continue
                }
                if var pending = meta {
                    let step = min(pending.remaining, data.endIndex - index)
                    pending.bytes.append(contentsOf: data[index..<(index + step)])
                    pending.remaining -= step
                    index += step
                    meta = pending
                    if pending.remaining == 0 {
                        meta = nil
                        skip = pending.padding
                        takeMeta(pending.type, pending.bytes)
                    }
                    continue
                }
                let step = min(512 - header.count, data.endIndex - index)
                header.append(contentsOf: data[index..<(index + step)])
                index += step
                if header.count == 512 {
                    let block = header
                    header.removeAll(keepingCapacity: true)
                    try check(block)
                }
            }
        }

        mutating func takeMeta(_ type: UInt8, _ bytes: [UInt8]) {
            let text = String(decoding: bytes.prefix { $0 != 0 }, as: UTF8.self)
            switch type {
            case UInt8(ascii: "L"): longName = text
            case UInt8(ascii: "K"): longLink = text
            default: // pax: a path override is checked like a name
                let all = String(decoding: bytes, as: UTF8.self)
                for line in all.split(separator: "\n") {
                    if let range = line.range(of: " path=") { longName = String(line[range.upperBound...]) }
                    if let range = line.range(of: " linkpath=") { longLink = String(line[range.upperBound...]) }
                    if let range = line.range(of: " size="), let size = Int(line[range.upperBound...]), size >= 0 { longSize = size }
                }
            }
        }

        /// The size field: octal text, or GNU base-256 for sizes past 8 GiB.
        static func size(_ block: [UInt8]) -> Int? {
            if block[124] & 0x80 != 0 {
                let bytes = block[125..<136]
                guard bytes.prefix(3).allSatisfy({ $0 == 0 }), block[124] == 0x80 else { return nil }
                return bytes.reduce(0) { ($0 << 8) | Int($1) }
            }
            let text = String(decoding: block[124..<136].prefix { $0 != 0 }, as: UTF8.self).trimmingCharacters(in: .whitespaces)
            guard let size = text.isEmpty ? 0 : Int(text, radix: 8), size >= 0 else { return nil }
            return size
        }

        mutating func check(_ block: [UInt8]) throws {
            if block.allSatisfy({ $0 == 0 }) {
                ended = true
                return
            }
            func field(_ start: Int, _ length: Int) -> String {
                String(decoding: block[start..<(start + length)].prefix { $0 != 0 }, as: UTF8.self)
            }
            guard let size = longSize ?? Self.size(block) else { throw UnsafeEntry(name: field(0, 100), reason: "has an unreadable size") }
            longSize = nil
            let padded = (size + 511) / 512 * 512
            let type = block[156]
            let prefix = field(345, 155)
            var name = longName ?? (prefix.isEmpty ? field(0, 100) : prefix + "/" + field(0, 100))
            longName = nil
            switch type {
            case UInt8(ascii: "L"), UInt8(ascii: "K"), UInt8(ascii: "x"), UInt8(ascii: "g"):
                guard size <= Self.maxMetaBytes else { throw UnsafeEntry(name: name, reason: "has a header of \(size) bytes") }
                if size == 0 { return }
                meta = (type, size, padded - size, [])
                return
            case 0, UInt8(ascii: "0"), UInt8(ascii: "5"), UInt8(ascii: "7"): break
            case UInt8(ascii: "2") where allowRelativeLinks:
                let target = longLink ?? field(157, 100)
                let folder = PathMath.components(name).dropLast()
                if target.hasPrefix("/") || PathMath.escapes((folder + [target]).joined(separator: "/")) {
                    throw UnsafeEntry(name: name, reason: "links outside the archive (to \"\(target)\")")
                }
            case UInt8(ascii: "1"), UInt8(ascii: "2"): throw UnsafeEntry(name: name, reason: "is a link")
            case UInt8(ascii: "3"), UInt8(ascii: "4"), UInt8(ascii: "6"): throw UnsafeEntry(name: name, reason: "is a device or FIFO")
            default: throw UnsafeEntry(name: name, reason: "has an unknown type")
            }
            longLink = nil
            if name.hasPrefix("./") { name.removeFirst(2) }
            if name.hasPrefix("/") { throw UnsafeEntry(name: name, reason: "has an absolute path") }
            if name.split(separator: "/").contains("..") { throw UnsafeEntry(name: name, reason: "climbs out with \"..\"") }
            entries += 1
            if keepNames { names.append(name) }
            skip = padded
        }
    }

    /// `chunks`, each piece checked by a `Validator` before it is handed on: an unsafe entry
    /// ends the stream with an error before its header is complete downstream.
    public static func checking(_ chunks: ByteChunks, allowRelativeLinks: Bool) -> ByteChunks {
        let pieces = CheckedPieces(chunks.makeAsyncIterator(), Validator(allowRelativeLinks: allowRelativeLinks))
        return ByteChunks(unfolding: { try await pieces.next() })
    }

    /// The state behind `checking`; the stream pulls it from one task at a time.
    final class CheckedPieces: @unchecked Sendable {
        var iterator: ByteChunks.AsyncIterator
        var validator: Validator

        init(_ iterator: ByteChunks.AsyncIterator, _ validator: Validator) {
            self.iterator = iterator
            self.validator = validator
        }

        func next() async throws -> Data? {
            guard let piece = try await iterator.next() else { return nil }
            try validator.feed(piece)
            return piece
        }
    }

    /// One entry of an archive built from a folder.
    public enum Entry: Sendable {
        case directory(path: String, mode: Int)
        case file(path: String, contents: Data, mode: Int)
    }

    /// An archive of folder entries, in the order given.
    public static func archive(_ entries: [Entry]) throws -> Data {
        var out = Data()
        for entry in entries {
            switch entry {
            case let .directory(path, mode): try header(into: &out, name: path + "/", size: 0, mode: mode, type: "5")
            case let .file(path, contents, mode): try appendFile(into: &out, name: path, contents: contents, mode: mode)
            }
        }
        out.append(Data(count: 1024))
        return out
    }

    /// The header block of an entry streamed piece by piece: its data follows, then `padding`.
    /// `modified`: seconds since 1970, kept so a program that watches mtimes sees the change.
    public static func entryHeader(name: String, size: Int, mode: Int, directory: Bool, modified: Int = 0) throws -> Data {
        var out = Data()
        try header(into: &out, name: directory ? name + "/" : name, size: size, mode: mode, type: directory ? "5" : "0", modified: modified)
        return out
    }

    /// The zeros that pad `size` bytes of data to a whole block.
    public static func padding(_ size: Int) -> Data { Data(count: (512 - size % 512) % 512) }

    /// The two zero blocks that end an archive.
    public static let end = Data(count: 1024)

    /// A regular file's header and contents, padded to the 512-byte block.
    static func appendFile(into out: inout Data, name: String, contents: Data, mode: Int) throws {
        try header(into: &out, name: name, size: contents.count, mode: mode, type: "0")
        out.append(contents)
        out.append(Data(count: (512 - contents.count % 512) % 512))
    }

    static func header(into out: inout Data, name: String, size: Int, mode: Int, type: Character, link: String = "", modified: Int = 0) throws {
        var block = [UInt8](repeating: 0, count: 512)
        var nameBytes = Array(name.utf8), prefix: [UInt8] = []
        if nameBytes.count > 100 {
            guard let split = name.utf8.indices.filter({ name.utf8[$0] == UInt8(ascii: "/") }).last(where: { name.utf8.distance(from: name.utf8.startIndex, to: $0) <= 155 }) else {
                throw TooLong(path: name)
            }
            prefix = Array(name.utf8[..<split])
            nameBytes = Array(name.utf8[name.utf8.index(after: split)...])
            guard nameBytes.count <= 100 else { throw TooLong(path: name) }
        }
        func put(_ bytes: [UInt8], at offset: Int) { for (i, b) in bytes.enumerated() { block[offset + i] = b } }
        func octal(_ value: Int, width: Int) -> [UInt8] { Array(String(format: "%0\(width - 1)o", value).utf8) + [0] }
        put(nameBytes, at: 0)
        put(octal(mode & 0o7777, width: 8), at: 100)
        put(octal(0, width: 8), at: 108)
        put(octal(0, width: 8), at: 116)
        put(octal(size, width: 12), at: 124)
        put(octal(max(0, min(modified, 0o77777777777)), width: 12), at: 136)
        put(Array(repeating: UInt8(ascii: " "), count: 8), at: 148)
        put([UInt8(String(type).utf8.first!)], at: 156)
        put(Array(link.utf8.prefix(100)), at: 157)
        put(Array("ustar\u{0}00".utf8), at: 257)
        put(prefix, at: 345)
        let checksum = block.reduce(0) { $0 + Int($1) }
        put(Array(String(format: "%06o", checksum).utf8) + [0, UInt8(ascii: " ")], at: 148)
        out.append(contentsOf: block)
    }
}
