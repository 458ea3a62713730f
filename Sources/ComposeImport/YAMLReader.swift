import CLibYAML
import EnvSpec
import Foundation

/// One YAML value as Compose v2 reads it (YAML 1.2 core schema, as yaml.v3 does), with the file
/// and line it comes from.
public struct YAMLNode: Sendable {
    public enum Value: Sendable {
        /// A scalar's text; `plain` is false for quoted and block scalars, which are always strings.
        case scalar(String, plain: Bool, tag: String?)
        case sequence([YAMLNode])
        case mapping([(key: String, value: YAMLNode)])
    }
    public var value: Value
    public var file: String
    public var line: Int
    public var column: Int

    /// The scalar resolved by the YAML 1.2 core schema: `yes`, `on` and `22:22` stay strings.
    public var resolved: Any {
        switch value {
        case let .scalar(text, plain, tag): return YAMLNode.resolve(text, plain: plain, tag: tag)
        case let .sequence(items): return items.map(\.resolved)
        case let .mapping(pairs):
            var out: [String: Any] = [:]
            for (key, value) in pairs { out[key] = value.resolved }
            return out
        }
    }

    static func resolve(_ text: String, plain: Bool, tag: String?) -> Any {
        switch tag {
        case "tag:yaml.org,2002:str": return text
        case "tag:yaml.org,2002:null": return NSNull()
        case "tag:yaml.org,2002:bool": return ["true", "True", "TRUE"].contains(text)
        case "tag:yaml.org,2002:int": return Int(text) ?? text
        case "tag:yaml.org,2002:float": return Double(text) ?? text
        default: break
        }
        guard plain else { return text }
        switch text {
        case "", "~", "null", "Null", "NULL": return NSNull()
        case "true", "True", "TRUE": return true
        case "false", "False", "FALSE": return false
        case ".inf", ".Inf", ".INF", "+.inf", "+.Inf", "+.INF": return Double.infinity
        case "-.inf", "-.Inf", "-.INF": return -Double.infinity
        case ".nan", ".NaN", ".NAN": return Double.nan
        default: break
        }
        if let int = coreInteger(text) { return int }
        if isCoreFloat(text), let d = Double(text) { return d }
        return text
    }

    /// Integers as yaml.v3 reads them (Go's ParseInt with base 0): decimal, `0x…`, `0o…`,
    /// `0b…`, a leading `0` for octal, `_` between digits after a prefix; too large for Int: nil.
    static func coreInteger(_ text: String) -> Int? {
        var body = Substring(text)
        var negative = false
        if body.first == "-" || body.first == "+" { negative = body.first == "-"; body = body.dropFirst() }
        guard let first = body.first, first.isASCII, first.isNumber else { return nil }
        var radix = 10
        var digits = body
        var prefixed = false
        if body.count > 2, body.hasPrefix("0") {
            switch body.dropFirst().first {
            case "x", "X": radix = 16; digits = body.dropFirst(2); prefixed = true
            case "o", "O": radix = 8; digits = body.dropFirst(2); prefixed = true
            case "b", "B": radix = 2; digits = body.dropFirst(2); prefixed = true
            default: break
            }
        }
        if !prefixed, body.count > 1, body.hasPrefix("0") { radix = 8; digits = body.dropFirst() }
        var cleaned = String(digits)
        if prefixed || radix == 8 {
            // Go allows "_" between digits (and right after a base prefix).
            guard !cleaned.hasSuffix("_"), !cleaned.contains("__") else { return nil }
            cleaned = cleaned.replacingOccurrences(of: "_", with: "")
        }
        guard !cleaned.isEmpty, let magnitude = Int(cleaned, radix: radix) else { return nil }
        return negative ? -magnitude : magnitude
    }

    /// `[-+]?(\.[0-9]+|[0-9]+(\.[0-9]*)?)([eE][-+]?[0-9]+)?`
    static func isCoreFloat(_ text: String) -> Bool {
        var s = Substring(text)
        if s.first == "-" || s.first == "+" { s = s.dropFirst() }
        let mantissa = s.prefix { $0 != "e" && $0 != "E" }
        let exponent = s.dropFirst(mantissa.count)
        let parts = mantissa.split(separator: ".", maxSplits: 1, omittingEmptySubsequences: false)
        guard parts.count <= 2, !mantissa.isEmpty else { return false }
        let whole = parts[0], fraction = parts.count == 2 ? parts[1] : ""
        guard whole.allSatisfy({ $0.isASCII && $0.isNumber }), fraction.allSatisfy({ $0.isASCII && $0.isNumber }) else { return false }
        guard !whole.isEmpty || !fraction.isEmpty, !(whole.isEmpty && parts.count == 1) else { return false }
        if exponent.isEmpty { return true }
        var e = exponent.dropFirst()
        if e.first == "-" || e.first == "+" { e = e.dropFirst() }
        return !e.isEmpty && e.allSatisfy { $0.isASCII && $0.isNumber }
    }

    public subscript(key: String) -> YAMLNode? {
        guard case let .mapping(pairs) = value else { return nil }
        return pairs.last { $0.key == key }?.value
    }
}

/// Reads YAML through libyaml's event parser into `YAMLNode`s, without recursion and within
/// limits, so no input can crash the process or exhaust its memory: the document's size, its
/// nesting depth and the nodes that aliases expand to are bounded, and each excess is one error
/// naming the file and line. Complex keys and duplicate keys are errors, as in compose.
public struct YAMLReader {
    public struct Limits: Sendable {
        public var maxBytes = 8 << 20
        public var maxDepth = 128
        /// Nodes of the document once every alias is expanded (a "billion laughs" stays small).
        public var maxExpandedNodes = 1_000_000
        public init() {}
    }

    public struct Failure: Error, Sendable, CustomStringConvertible {
        public var file: String
        public var line: Int
        public var column: Int
        public var message: String
        public var description: String { "\(file):\(line):\(column): \(message)" }
        public var diagnostic: Diagnostic { Diagnostic(file: file, path: "", message: message, line: line, column: column) }
    }

    public static func read(_ text: String, file: String, limits: Limits = Limits()) throws(Failure) -> YAMLNode? {
        var bytes = Array(text.utf8)
        guard bytes.count <= limits.maxBytes else {
            throw Failure(file: file, line: 1, column: 1, message: "the file is \(bytes.count) bytes, over the \(limits.maxBytes >> 20) MiB devstack reads")
        }
        var parser = yaml_parser_t()
        guard yaml_parser_initialize(&parser) == 1 else { throw Failure(file: file, line: 1, column: 1, message: "cannot start the YAML parser") }
        defer { yaml_parser_delete(&parser) }
        return try bytes.withUnsafeMutableBufferPointer { buffer throws(Failure) -> YAMLNode? in
            yaml_parser_set_input_string(&parser, buffer.baseAddress, buffer.count)
            var composer = Composer(file: file, limits: limits)
            return try composer.run(&parser)
        }
    }

    /// An open collection while its children are read.
    struct Frame {
        var isMapping: Bool
        var items: [YAMLNode] = []
        var pairs: [(key: String, value: YAMLNode)] = []
        var keyLines: [String: Int] = [:]
        var pendingKey: (text: String, line: Int, column: Int, isMerge: Bool)?
        var merged: [(key: String, value: YAMLNode)] = []
        var anchor: String?
        var tag: String?
        var line: Int
        var column: Int
        var expanded = 1
        /// Levels below this collection, aliases included: an alias chain cannot make a tree
        /// deeper than the limit either.
        var height = 1
    }

    struct Composer {
        var file: String
        var limits: Limits
        var anchors: [String: (node: YAMLNode, size: Int, height: Int)] = [:]
        var stack: [Frame] = []
        var root: YAMLNode?
        var documents = 0
        var expandedTotal = 0

        func fail(_ line: Int, _ column: Int, _ message: String) -> Failure {
            Failure(file: file, line: line, column: column, message: message)
        }

        mutating func run(_ parser: inout yaml_parser_t) throws(Failure) -> YAMLNode? {
            var event = yaml_event_t()
            while true {
                guard yaml_parser_parse(&parser, &event) == 1 else {
                    let problem = parser.problem.map { String(cString: $0) } ?? "invalid YAML"
                    let mark = parser.problem_mark
                    let context = parser.context.map { String(cString: $0) + ": " } ?? ""
                    throw fail(Int(mark.line) + 1, Int(mark.column) + 1, "invalid YAML: \(context)\(problem)")
                }
                defer { yaml_event_delete(&event) }
                let line = Int(event.start_mark.line) + 1, column = Int(event.start_mark.column) + 1
                switch event.type {
                case YAML_STREAM_END_EVENT:
                    return root
                case YAML_DOCUMENT_START_EVENT:
                    documents += 1
                    if documents > 1 { throw fail(line, column, "expected one YAML document, found another") }
                case YAML_SCALAR_EVENT:
                    let s = event.data.scalar
                    let text = String(decoding: UnsafeBufferPointer(start: s.value, count: s.length), as: UTF8.self)
                    let plain = s.style == YAML_PLAIN_SCALAR_STYLE && s.plain_implicit == 1
                    let tag = s.quoted_implicit == 1 || s.plain_implicit == 1 ? nil : s.tag.map { String(cString: $0) }
                    let node = YAMLNode(value: .scalar(text, plain: plain, tag: tag), file: file, line: line, column: column)
                    if let anchor = s.anchor.map({ String(cString: $0) }) { anchors[anchor] = (node, 1, 0) }
                    try add(node, size: 1, height: 0, isAlias: false)
                case YAML_ALIAS_EVENT:
                    let name = String(cString: event.data.alias.anchor)
                    guard let target = anchors[name] else { throw fail(line, column, "unknown alias *\(name)") }
                    try add(target.node, size: target.size, height: target.height, isAlias: true, line: line, column: column)
                case YAML_SEQUENCE_START_EVENT, YAML_MAPPING_START_EVENT:
                    guard stack.count < limits.maxDepth else {
                        throw fail(line, column, "nesting deeper than \(limits.maxDepth) levels")
                    }
                    if let top = stack.last, top.isMapping, top.pendingKey == nil {
                        throw fail(line, column, "a mapping key must be a plain value, not a \(event.type == YAML_SEQUENCE_START_EVENT ? "list" : "mapping")")
                    }
                    let isMapping = event.type == YAML_MAPPING_START_EVENT
                    let anchor = (isMapping ? event.data.mapping_start.anchor : event.data.sequence_start.anchor).map { String(cString: $0) }
                    stack.append(Frame(isMapping: isMapping, anchor: anchor, line: line, column: column))
                case YAML_SEQUENCE_END_EVENT, YAML_MAPPING_END_EVENT:
                    let frame = stack.removeLast()
                    var node: YAMLNode
                    if frame.isMapping {
                        // Keys written in the mapping win over those merged in with `<<`.
                        var pairs = frame.pairs
                        let own = Set(pairs.map(\.key))
                        var seenMerged: Set<String> = []
                        for (key, value) in frame.merged where !own.contains(key) && seenMerged.insert(key).inserted {
                            pairs.append((key, value))
                        }
                        node = YAMLNode(value: .mapping(pairs), file: file, line: frame.line, column: frame.column)
                    } else {
                        node = YAMLNode(value: .sequence(frame.items), file: file, line: frame.line, column: frame.column)
                    }
                    if let anchor = frame.anchor { anchors[anchor] = (node, frame.expanded, frame.height) }
                    try add(node, size: frame.expanded, height: frame.height, isAlias: false)
                default:
                    break
                }
            }
        }

        /// Adds a finished node to the collection that holds it (or makes it the root).
        mutating func add(_ node: YAMLNode, size: Int, height: Int, isAlias: Bool, line: Int? = nil, column: Int? = nil) throws(Failure) {
            if isAlias {
                expandedTotal += size
                guard expandedTotal <= limits.maxExpandedNodes else {
                    throw fail(line ?? node.line, column ?? node.column, "aliases expand to more than \(limits.maxExpandedNodes) values")
                }
            }
            guard !stack.isEmpty else { root = node; return }
            stack[stack.count - 1].expanded += size
            stack[stack.count - 1].height = max(stack[stack.count - 1].height, height + 1)
            guard stack[stack.count - 1].height + stack.count - 1 <= limits.maxDepth else {
                throw fail(line ?? node.line, column ?? node.column, "nesting deeper than \(limits.maxDepth) levels (aliases included)")
            }
            guard stack[stack.count - 1].expanded <= limits.maxExpandedNodes else {
                throw fail(line ?? node.line, column ?? node.column, "aliases expand to more than \(limits.maxExpandedNodes) values")
            }
            var frame = stack.removeLast()
            defer { stack.append(frame) }
            guard frame.isMapping else { frame.items.append(node); return }
            guard let key = frame.pendingKey else {
                guard case let .scalar(text, plain, _) = node.value else {
                    throw fail(line ?? node.line, column ?? node.column, "a mapping key must be a plain value")
                }
                frame.pendingKey = (text, line ?? node.line, column ?? node.column, plain && text == "<<")
                return
            }
            frame.pendingKey = nil
            if key.isMerge {
                // `<<: *base` or `<<: [*a, *b]`: earlier mappings in the list win, as in YAML's merge.
                let sources: [YAMLNode]
                switch node.value {
                case .mapping: sources = [node]
                case let .sequence(items): sources = items
                case .scalar: throw fail(key.line, key.column, "\"<<\" expects a mapping or a list of mappings")
                }
                for source in sources {
                    guard case let .mapping(pairs) = source.value else { throw fail(key.line, key.column, "\"<<\" expects a mapping or a list of mappings") }
                    frame.merged += pairs
                }
                return
            }
            if let first = frame.keyLines[key.text] {
                throw fail(key.line, key.column, "mapping key \"\(key.text)\" already defined at line \(first)")
            }
            frame.keyLines[key.text] = key.line
            frame.pairs.append((key.text, node))
        }
    }
}
