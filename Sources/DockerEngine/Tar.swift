import Foundation

/// Writes a ustar archive of a folder, for the build context. Only regular files and folders;
/// symbolic links are skipped so a context cannot reach outside itself.
enum Tar {
    struct TooLong: Error, CustomStringConvertible {
        var path: String
        var description: String { "build context path too long for a tar header: \(path)" }
    }

    static func archive(directory: String) throws -> Data {
        var out = Data()
        let fm = FileManager.default
        guard let walker = fm.enumerator(atPath: directory) else { return Data(count: 1024) }
        var entries: [String] = []
        for case let relative as String in walker { entries.append(relative) }
        for relative in entries.sorted() {
            let full = directory + "/" + relative
            let attributes = try fm.attributesOfItem(atPath: full)
            let type = attributes[.type] as? FileAttributeType
            let mode = (attributes[.posixPermissions] as? Int) ?? 0o644
            if type == .typeDirectory {
                try header(into: &out, name: relative + "/", size: 0, mode: mode, type: "5")
            } else if type == .typeRegular {
                let data = fm.contents(atPath: full) ?? Data()
                try header(into: &out, name: relative, size: data.count, mode: mode, type: "0")
                out.append(data)
                out.append(Data(count: (512 - data.count % 512) % 512))
            }
        }
        out.append(Data(count: 1024))
        return out
    }

    static func header(into out: inout Data, name: String, size: Int, mode: Int, type: Character) throws {
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
        put(Array("ustar\u{0}00".utf8), at: 257)
        put(prefix, at: 345)
        let checksum = block.reduce(0) { $0 + Int($1) }
        put(Array(String(format: "%06o", checksum).utf8) + [0, UInt8(ascii: " ")], at: 148)
        out.append(contentsOf: block)
    }
}
