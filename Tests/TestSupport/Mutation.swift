/// Deterministic mutation of text, shared by the in-process fuzzers and `devstack-fuzz`.
public struct SplitMix: Sendable {
    public var state: UInt64
    public init(state: UInt64) { self.state = state }

    /// SplitMix64: a fixed seed makes every run reproducible.
    public mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }

    public mutating func below(_ n: Int) -> Int { n <= 0 ? 0 : Int(next() % UInt64(n)) }
}

public enum Mutation {
    /// One to four edits: a flipped byte, a cut, a repeated run, a token inserted, a truncation,
    /// or a quoted string replaced by a token (structure kept plausible).
    public static func mutate(_ text: String, tokens: [String], _ random: inout SplitMix) -> String {
        var bytes = Array(text.utf8)
        for _ in 0...random.below(3) {
            let at = random.below(bytes.count + 1)
            switch random.below(6) {
            case 0 where !bytes.isEmpty: bytes[min(at, bytes.count - 1)] = UInt8(random.below(256))
            case 1 where !bytes.isEmpty:
                let end = min(bytes.count, at + 1 + random.below(40))
                bytes.removeSubrange(min(at, end)..<end)
            case 2:
                let end = min(bytes.count, at + random.below(80))
                bytes.insert(contentsOf: Array(bytes[min(at, end)..<end]), at: min(at, bytes.count))
            case 3: bytes.insert(contentsOf: Array(tokens[random.below(tokens.count)].utf8), at: min(at, bytes.count))
            case 4: bytes = Array(bytes.prefix(at))
            default:
                let quotes = bytes.indices.filter { bytes[$0] == UInt8(ascii: "\"") }
                guard quotes.count >= 2 else { continue }
                let i = random.below(quotes.count - 1)
                bytes.replaceSubrange(quotes[i]...quotes[i + 1], with: Array(tokens[random.below(tokens.count)].utf8))
            }
        }
        return String(decoding: bytes, as: UTF8.self)
    }
}
