import CZlib
import Foundation

/// gzip through the system zlib, for snapshot archives.
public enum Gzip {
    public struct Failure: Error, CustomStringConvertible, Sendable {
        public var description: String
    }

    /// An archive inflates in memory; beyond this it is refused rather than exhausting memory.
    public static let maxInflatedBytes = 1 << 30

    public static func compress(_ input: Data, level: Int32 = 6) throws -> Data {
        var stream = z_stream()
        // 15 window bits + 16 selects the gzip wrapper.
        guard deflateInit2_(&stream, level, Z_DEFLATED, 15 + 16, 8, Z_DEFAULT_STRATEGY, zlibVersion(), Int32(MemoryLayout<z_stream>.size)) == Z_OK else {
            throw Failure(description: "cannot start gzip compression")
        }
        defer { deflateEnd(&stream) }
        return try run(&stream, input) { deflate(&$0, Z_FINISH) }
    }

    /// Refuses to inflate past `limit` bytes, so a crafted archive cannot exhaust memory.
    public static func decompress(_ input: Data, limit: Int = maxInflatedBytes) throws -> Data {
        var stream = z_stream()
        guard inflateInit2_(&stream, 15 + 16, zlibVersion(), Int32(MemoryLayout<z_stream>.size)) == Z_OK else {
            throw Failure(description: "cannot start gzip decompression")
        }
        defer { inflateEnd(&stream) }
        let out = try run(&stream, input, limit: limit) { inflate(&$0, Z_NO_FLUSH) }
        return out
    }

    private static func run(_ stream: inout z_stream, _ input: Data, limit: Int = .max, step: (inout z_stream) -> Int32) throws -> Data {
        var output = Data()
        let chunk = 1 << 20
        var buffer = [UInt8](repeating: 0, count: chunk)
        var source = [UInt8](input)
        let total = source.count
        return try source.withUnsafeMutableBufferPointer { inputBuffer in
            stream.next_in = inputBuffer.baseAddress
            stream.avail_in = uInt(total)
            while true {
                let status: Int32 = buffer.withUnsafeMutableBufferPointer { out in
                    stream.next_out = out.baseAddress
                    stream.avail_out = uInt(chunk)
                    return step(&stream)
                }
                let produced = chunk - Int(stream.avail_out)
                output.append(contentsOf: buffer[0..<produced])
                if output.count > limit { throw Failure(description: "the archive inflates to more than \(limit) bytes") }
                switch status {
                case Z_STREAM_END: return output
                case Z_OK: continue
                case Z_BUF_ERROR where produced > 0: continue
                default:
                    let reason = stream.msg.map { String(cString: $0) } ?? "status \(status)"
                    throw Failure(description: "not a valid gzip archive (\(reason))")
                }
            }
        }
    }
}
