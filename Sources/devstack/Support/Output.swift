import Application
import Foundation
import Reconciler

extension UseCaseError: UserFacingError {
    var lines: [String] { details + [message] }
    var exitCode: Int32 { invalidInput ? 2 : 1 }
}

/// Renders a use case's progress events on the terminal.
enum Output {
    /// Steps as live lines (or one line per transition when not a terminal), seeds and notes.
    static func sink(quietSteps: Bool = false, progress: ConsoleProgress = ConsoleProgress()) -> ProgressSink {
        { event in
            switch event {
            case let .step(step, phase): if !quietSteps { progress.report(step, phase) }
            case let .seed(outcome): print(seedLine(outcome)); Terminal.flush()
            case let .note(note): render(note)
            case let .tested(revision, verdict, detail):
                let label = verdict == .good ? Terminal.green("good") : verdict == .bad ? Terminal.red("bad") : Terminal.yellow("skipped")
                print(verdict == .skip && !detail.hasPrefix("exit") ? "revision \(revision): \(label), \(detail)" : "revision \(revision): \(label) (\(detail))")
                Terminal.flush()
            case let .transfer(transfer): renderTransfer(transfer)
            }
        }
    }

    /// A copy that takes over a second gets one live line on a terminal's stderr: bytes and rate.
    static func renderTransfer(_ transfer: Transfer) {
        guard Terminal.stderrIsTTY, transfer.elapsed >= .seconds(1) else { return }
        var line = "\(transfer.label): \(Bytes.format(transfer.bytes)) at \(Bytes.format(Int(transfer.rate)))/s"
        if let total = transfer.total, total > 0 {
            let done = min(20, transfer.bytes * 20 / total)
            line = "\(transfer.label): [\(String(repeating: "#", count: done))\(String(repeating: ".", count: 20 - done))] \(Bytes.format(transfer.bytes)) of \(Bytes.format(total)) at \(Bytes.format(Int(transfer.rate)))/s"
        }
        FileHandle.standardError.write(Data("\r\u{1B}[2K\(Terminal.escape(line))\(transfer.finished ? "\n" : "")".utf8))
    }

    static func render(_ note: Note) {
        switch note.weight {
        case .info: print(note.text)
        case let .success(rest): print(Terminal.green(note.text) + rest)
        case .warning: Terminal.warn(note.text)
        case .error: Terminal.error(note.text)
        case .aside: Terminal.note(note.text)
        }
        Terminal.flush()
    }

    static func seedLine(_ outcome: SeedOutcome) -> String {
        let time = outcome.durationMs > 0 ? String(format: " %.1fs", Double(outcome.durationMs) / 1000) : ""
        switch outcome.status {
        case .succeeded: return "seed \(outcome.name): " + Terminal.green("ran") + "\(time) (\(outcome.detail))"
        case .skipped: return "seed \(outcome.name): " + Terminal.dim("skipped, \(outcome.detail)")
        case .failed, .blocked: return "seed \(outcome.name): " + Terminal.red("\(outcome.status.rawValue)") + "\(time): \(outcome.detail)"
        }
    }
}
