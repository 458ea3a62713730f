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
    @discardableResult
    /// `allowRelativeLinks` admits symbolic links whose target stays inside the archive's root, as
    /// found in real volumes; hard links, absolute or climbing targets are refused either way.
    public static func validate(_ archive: Data, allowRelativeLinks: Bool = false) throws -> [String] {
        var names: [String] = []
        var offset = 0
        let bytes = [UInt8](archive)
        var longName: String?
        var longLink: String?
        while offset + 512 <= bytes.count {
            let block = bytes[offset..<(offset + 512)]
            if block.allSatisfy({ $0 == 0 }) { break }
            func field(_ start: Int, _ length: Int) -> String {
                let raw = bytes[(offset + start)..<(offset + start + length)]
                return String(decoding: raw.prefix { $0 != 0 }, as: UTF8.self)
            }
            let size = Int(field(124, 12).trimmingCharacters(in: .whitespaces), radix: 8) ?? 0
            let type = bytes[offset + 156]
            let prefix = field(345, 155)
            var name = longName ?? (prefix.isEmpty ? field(0, 100) : prefix + "/" + field(0, 100))
            longName = nil
            let linkName = field(157, 100)
            let dataStart = offset + 512
            offset = dataStart + (size + 511) / 512 * 512
            switch type {
            case UInt8(ascii: "L"): // GNU long name for the next entry
                longName = String(decoding: bytes[dataStart..<min(dataStart + size, bytes.count)].prefix { $0 != 0 }, as: UTF8.self)
                continue
            case UInt8(ascii: "K"): // GNU long link target for the next entry
                longLink = String(decoding: bytes[dataStart..<min(dataStart + size, bytes.count)].prefix { $0 != 0 }, as: UTF8.self)
                continue
            case UInt8(ascii: "x"), UInt8(ascii: "g"): // pax headers: a path override is checked like a name
                let text = String(decoding: bytes[dataStart..<min(dataStart + size, bytes.count)], as: UTF8.self)
                for line in text.split(separator: "\n") where line.contains(" path=") {
                    longName = String(line[line.range(of: " path=")!.upperBound...])
                }
                for line in text.split(separator: "\n") where line.contains(" linkpath=") {
                    longLink = String(line[line.range(of: " linkpath=")!.upperBound...])
                }
                continue
            case 0, UInt8(ascii: "0"), UInt8(ascii: "5"), UInt8(ascii: "7"): break
            case UInt8(ascii: "2") where allowRelativeLinks:
                let target = longLink ?? linkName
                longLink = nil
                let folder = PathMath.components(name).dropLast()
                if target.hasPrefix("/") || PathMath.escapes((folder + [target]).joined(separator: "/")) {
                    throw UnsafeEntry(name: name, reason: "links outside the archive (to \"\(target)\")")
                }
            case UInt8(ascii: "1"), UInt8(ascii: "2"): throw UnsafeEntry(name: name, reason: "is a link")
            case UInt8(ascii: "3"), UInt8(ascii: "4"), UInt8(ascii: "6"): throw UnsafeEntry(name: name, reason: "is a device or FIFO")
            default: throw UnsafeEntry(name: name, reason: "has an unknown type")
            }
            if name.hasPrefix("./") { name.removeFirst(2) }
            if name.hasPrefix("/") { throw UnsafeEntry(name: name, reason: "has an absolute path") }
            if name.split(separator: "/").contains("..") { throw UnsafeEntry(name: name, reason: "climbs out with \"..\"") }
            names.append(name)
        }
        return names
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

    /// A regular file's header and contents, padded to the 512-byte block.
    static func appendFile(into out: inout Data, name: String, contents: Data, mode: Int) throws {
        try header(into: &out, name: name, size: contents.count, mode: mode, type: "0")
        out.append(contents)
        out.append(Data(count: (512 - contents.count % 512) % 512))
    }

    static func header(into out: inout Data, name: String, size: Int, mode: Int, type: Character, link: String = "") throws {
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
        put(octal(0, width: 12), at: 136)
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
