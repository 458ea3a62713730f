import Foundation
import Reconciler

/// A build context folder as the tar archive the engine's build endpoint takes: folders and
/// regular files in sorted order, with their modes.
enum ContextArchive {
    static func make(directory: String) throws -> Data {
        let fm = FileManager.default
        guard let walker = fm.enumerator(atPath: directory) else { return try Tar.archive([]) }
        var paths: [String] = []
        for case let relative as String in walker { paths.append(relative) }
        var entries: [Tar.Entry] = []
        for relative in paths.sorted() {
            let full = directory + "/" + relative
            let attributes = try fm.attributesOfItem(atPath: full)
            let type = attributes[.type] as? FileAttributeType
            let mode = (attributes[.posixPermissions] as? Int) ?? 0o644
            if type == .typeDirectory {
                entries.append(.directory(path: relative, mode: mode))
            } else if type == .typeRegular {
                entries.append(.file(path: relative, contents: fm.contents(atPath: full) ?? Data(), mode: mode))
            }
        }
        return try Tar.archive(entries)
    }
}
