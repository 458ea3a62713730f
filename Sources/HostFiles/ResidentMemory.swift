import Foundation

/// A long-running process's resident memory, handed back where the kernel can take it back for
/// free. Start-up touches code and tables that an idle controller never needs again (argument
/// parsing, relocation tables, every command's code): they stay mapped, and counted in its RSS,
/// until something evicts them. These are clean pages of the executable file, so dropping them
/// loses nothing; whatever the controller runs next is mapped in again from the page cache.
public enum ResidentMemory {
    /// Drops the clean mappings of the executable and returns freed heap to the system.
    /// Returns the bytes of mappings advised.
    @discardableResult
    public static func releaseIdlePages() -> Int {
        guard let executable = LocalFiles.realPath("/proc/self/exe"),
              let smaps = try? String(contentsOfFile: "/proc/self/smaps", encoding: .utf8) else { return 0 }
        var advised = 0
        for mapping in cleanMappings(smaps, of: executable) {
            guard let start = UnsafeMutableRawPointer(bitPattern: mapping.lowerBound) else { continue }
            if madvise(start, Int(mapping.upperBound - mapping.lowerBound), MADV_DONTNEED) == 0 { advised += Int(mapping.upperBound - mapping.lowerBound) }
        }
        _ = malloc_trim(0)
        return advised
    }

    /// The private, never-written mappings of `file` in /proc/self/smaps: not writable, and no
    /// anonymous (copied-on-write) page in them. A read-only mapping can still hold written
    /// pages, such as relocated data made read-only afterwards (RELRO); those have no other copy
    /// and are never dropped.
    static func cleanMappings(_ smaps: String, of file: String) -> [Range<UInt>] {
        var out: [Range<UInt>] = []
        var current: (range: Range<UInt>, eligible: Bool)?
        func finish() {
            if let current, current.eligible { out.append(current.range) }
            current = nil
        }
        for line in smaps.split(separator: "\n") {
            let fields = line.split(separator: " ", omittingEmptySubsequences: true)
            guard let first = fields.first else { continue }
            let bounds = first.split(separator: "-").compactMap { UInt(String($0), radix: 16) }
            if fields.count >= 5, bounds.count == 2 {
                finish()
                let perms = fields[1]
                let eligible = fields.count >= 6 && fields[5] == file && !perms.contains("w") && perms.hasSuffix("p") && bounds[1] > bounds[0]
                current = (bounds[0]..<bounds[1], eligible)
            } else if first == "Anonymous:", fields.count >= 2, fields[1] != "0" {
                current?.eligible = false
            }
        }
        finish()
        return out
    }
}

/// glibc's malloc_trim (malloc.h, which the Glibc module does not import): returns the free
/// memory at the top of the heap and in its arenas to the system.
@_silgen_name("malloc_trim")
private func malloc_trim(_ pad: Int) -> Int32
