import Foundation
import Testing
import TestSupport

/// Fuzzing in a child process (`devstack-fuzz`): every case that kills the child with a signal
/// is observed and counted, and the campaign goes on from the next case. The count printed is
/// the count measured. `DEVSTACK_FUZZ_CASES` sets the number of cases per kind.
@Suite struct SignalFuzzTests {
    struct Campaign {
        var cases = 0
        var signals: [(case: Int, signal: Int32)] = []
        var children = 0
    }

    static var driver: String { URL(fileURLWithPath: CLI.binary).deletingLastPathComponent().appendingPathComponent("devstack-fuzz").path }

    /// Runs cases `0..<count` of `kind`, restarting the child after each crash.
    static func campaign(_ kind: String, count: Int, seed: UInt64) throws -> Campaign {
        var result = Campaign()
        var next = 0
        while next < count {
            result.children += 1
            let out = CLI.temporaryDirectory("devstack-fuzz") + "/out"
            FileManager.default.createFile(atPath: out, contents: nil)
            defer { try? FileManager.default.removeItem(atPath: URL(fileURLWithPath: out).deletingLastPathComponent().path) }
            let process = Process()
            process.executableURL = URL(fileURLWithPath: driver)
            process.arguments = [kind, CLI.packageRoot.path, String(seed), String(next), String(count - next)]
            process.standardOutput = try FileHandle(forWritingTo: URL(fileURLWithPath: out))
            process.standardError = FileHandle.nullDevice
            // No backtrace collection: a crash ends the child at once.
            process.environment = ProcessInfo.processInfo.environment.merging(["SWIFT_BACKTRACE": "enable=no"]) { $1 }
            try process.run()
            process.waitUntilExit()
            let lines = ((try? String(contentsOfFile: out, encoding: .utf8)) ?? "").split(separator: "\n")
            let last = lines.last { $0.hasPrefix("case ") }.flatMap { Int($0.dropFirst(5)) } ?? next
            if process.terminationReason == .uncaughtSignal {
                result.signals.append((last, process.terminationStatus))
                next = last + 1
            } else {
                #expect(process.terminationStatus == 0 && lines.last == "done", "devstack-fuzz \(kind) exited \(process.terminationStatus)")
                next = count
            }
        }
        result.cases = count
        return result
    }

    @Test func theCampaignCountsEveryCrashItSees() throws {
        let result = try Self.campaign("self-test", count: 300, seed: 1)
        #expect(result.signals.map(\.case) == [7, 107, 207])
        #expect(result.signals.map(\.signal) == [SIGILL, SIGILL, SIGILL])
        #expect(result.children == 4)
    }

    @Test(arguments: ["env", "compose", "bundle", "artifact"])
    func mutatedInputsNeverKillTheProcess(kind: String) throws {
        let count = Int(ProcessInfo.processInfo.environment["DEVSTACK_FUZZ_CASES"] ?? "") ?? 5_000
        let result = try Self.campaign(kind, count: count, seed: 0x5EED)
        print("fuzz (child process): \(result.cases) \(kind) cases, \(result.signals.count) killed by a signal, \(result.children) child process(es)")
        #expect(result.signals.isEmpty, "cases that crashed: \(result.signals.prefix(10).map { "case \($0.case) signal \($0.signal)" })")
    }
}
