import CZlib
import Foundation

/// gzip through the system zlib, for snapshot archives. `Deflater` and `Inflater` work piece by
/// piece, so an archive of any size passes through a fixed-size buffer; `compress` and
/// `decompress` are the whole-`Data` conveniences built on them.
public enum Gzip {
    public struct Failure: Error, CustomStringConvertible, Sendable {
        public var description: String
        public init(description: String) { self.description = description }
    }

    /// A whole-`Data` inflate stops here rather than exhausting memory.
    public static let maxInflatedBytes = 1 << 30

    /// Output is handed back in pieces of at most this size.
    static let chunk = 1 << 18

    public static func compress(_ input: Data, level: Int32 = 6) throws -> Data {
        let deflater = try Deflater(level: level)
        var out = try deflater.push(input)
        out.append(try deflater.finish())
        return out
    }

    /// Refuses to inflate past `limit` bytes, so a crafted archive cannot exhaust memory.
    public static func decompress(_ input: Data, limit: Int = maxInflatedBytes) throws -> Data {
        let inflater = try Inflater()
        var out = Data()
        try inflater.push(input) { piece in
            out.append(piece)
            if out.count > limit { throw Failure(description: "the archive inflates to more than \(limit) bytes") }
        }
        guard inflater.finished else { throw Failure(description: "not a valid gzip archive (it ends early)") }
        return out
    }

    /// One gzip stream being written. Not thread-safe: one owner feeds it in order.
    public final class Deflater: @unchecked Sendable {
        let stream = UnsafeMutablePointer<z_stream>.allocate(capacity: 1)

        public init(level: Int32 = 6) throws {
            stream.initialize(to: z_stream())
            // 15 window bits + 16 selects the gzip wrapper.
            guard deflateInit2_(stream, level, Z_DEFLATED, 15 + 16, 8, Z_DEFAULT_STRATEGY, zlibVersion(), Int32(MemoryLayout<z_stream>.size)) == Z_OK else {
                stream.deallocate()
                throw Failure(description: "cannot start gzip compression")
            }
        }

        deinit {
            deflateEnd(stream)
            stream.deallocate()
        }

        /// Compresses `input`; returns what zlib has ready (often nothing for small pieces).
        public func push(_ input: Data) throws -> Data {
            var out = Data()
            try Gzip.pump(stream, input, flush: Z_NO_FLUSH, step: { deflate($0, $1) }) { out.append($0) }
            return out
        }

        /// The end of the stream: what was held back, and the gzip trailer.
        public func finish() throws -> Data {
            var out = Data()
            try Gzip.pump(stream, Data(), flush: Z_FINISH, step: { deflate($0, $1) }) { out.append($0) }
            return out
        }
    }

    /// One gzip stream being read, pulled one bounded piece of output at a time: a small input
    /// that inflates hugely is never expanded whole. Not thread-safe: one owner feeds it in order.
    public final class Inflater: @unchecked Sendable {
        let stream = UnsafeMutablePointer<z_stream>.allocate(capacity: 1)
        let output = UnsafeMutablePointer<UInt8>.allocate(capacity: Gzip.chunk)
        /// An owned copy of the piece zlib is reading, so it cannot move under it.
        var input: UnsafeMutableRawBufferPointer?
        /// The last call filled the output: zlib may hold more even with no input left.
        var outputWasFull = false
        /// The gzip trailer has been read.
        public private(set) var finished = false

        public init() throws {
            stream.initialize(to: z_stream())
            guard inflateInit2_(stream, 15 + 16, zlibVersion(), Int32(MemoryLayout<z_stream>.size)) == Z_OK else {
                stream.deallocate()
                output.deallocate()
                throw Failure(description: "cannot start gzip decompression")
            }
        }

        deinit {
            inflateEnd(stream)
            stream.deallocate()
            output.deallocate()
            input?.deallocate()
        }

        /// Hands zlib the next compressed piece, once `take` has returned nil for the last one.
        public func give(_ data: Data) throws {
            guard !data.isEmpty else { return }
            guard !finished else { throw Failure(description: "not a valid gzip archive (data after its end)") }
            input?.deallocate()
            let copy = UnsafeMutableRawBufferPointer.allocate(byteCount: data.count, alignment: 1)
            data.withUnsafeBytes { copy.copyMemory(from: $0) }
            input = copy
            stream.pointee.next_in = copy.baseAddress!.assumingMemoryBound(to: UInt8.self)
            stream.pointee.avail_in = uInt(data.count)
        }

        /// The next piece of output, at most 256 KiB; nil when zlib needs more input or the
        /// stream has ended.
        public func take() throws -> Data? {
            while !finished && (stream.pointee.avail_in > 0 || outputWasFull) {
                stream.pointee.next_out = output
                stream.pointee.avail_out = uInt(Gzip.chunk)
                let status = inflate(stream, Z_NO_FLUSH)
                let produced = Gzip.chunk - Int(stream.pointee.avail_out)
                outputWasFull = stream.pointee.avail_out == 0
                switch status {
                case Z_STREAM_END:
                    finished = true
                    if stream.pointee.avail_in > 0 { throw Failure(description: "not a valid gzip archive (data after its end)") }
                case Z_OK: break
                case Z_BUF_ERROR: outputWasFull = false
                default:
                    let reason = stream.pointee.msg.map { String(cString: $0) } ?? "status \(status)"
                    throw Failure(description: "not a valid gzip archive (\(reason))")
                }
                if produced > 0 { return Data(bytes: output, count: produced) }
            }
            return nil
        }

        /// Inflates `input`, handing each piece of output to `sink` as it is produced.
        public func push(_ input: Data, into sink: (Data) throws -> Void) throws {
            try give(input)
            while let piece = try take() { try sink(piece) }
        }
    }

    /// Runs deflate over `input` until it is consumed (and, with Z_FINISH, the stream ends).
    static func pump(_ stream: UnsafeMutablePointer<z_stream>, _ input: Data, flush: Int32,
                     step: (UnsafeMutablePointer<z_stream>, Int32) -> Int32, _ sink: (Data) throws -> Void) throws {
        var buffer = [UInt8](repeating: 0, count: chunk)
        var source = [UInt8](input)
        let total = source.count
        return try source.withUnsafeMutableBufferPointer { inputBuffer in
            stream.pointee.next_in = inputBuffer.baseAddress
            stream.pointee.avail_in = uInt(total)
            defer { stream.pointee.next_in = nil }
            while true {
                let status: Int32 = buffer.withUnsafeMutableBufferPointer { out in
                    stream.pointee.next_out = out.baseAddress
                    stream.pointee.avail_out = uInt(chunk)
                    return step(stream, flush)
                }
                let produced = chunk - Int(stream.pointee.avail_out)
                if produced > 0 { try sink(Data(buffer[0..<produced])) }
                switch status {
                case Z_STREAM_END: return
                case Z_OK, Z_BUF_ERROR:
                    // Done with this input when zlib consumed it all and had room to spare.
                    if stream.pointee.avail_in == 0 && stream.pointee.avail_out > 0 && flush != Z_FINISH { return }
                    if status == Z_BUF_ERROR && produced == 0 {
                        if flush == Z_FINISH { throw Failure(description: "gzip compression stalled") }
                        return
                    }
                default:
                    let reason = stream.pointee.msg.map { String(cString: $0) } ?? "status \(status)"
                    throw Failure(description: "gzip compression failed (\(reason))")
                }
            }
        }
    }
}
