import Foundation
import Reconciler

/// One line per transition; on a TTY, one live line per service, redrawn in place.
final class ConsoleProgress: ProgressReporter, @unchecked Sendable {
    private let lock = NSLock()
    private let live: Bool
    private var order: [String] = []
    private var lines: [String: String] = [:]
    private var drawn = 0

    init(live: Bool = Terminal.stdoutIsTTY) { self.live = live }

    func report(_ step: Plan.Step, _ phase: StepPhase) {
        let subject = step.service ?? subjectName(step.action)
        let text: String
        switch phase {
        case .started: text = "\(progressVerb(step.action))… (\(step.cause))"
        case let .finished(outcome, ms):
            switch outcome {
            case .succeeded: text = Terminal.green("\(doneVerb(step.action))") + Terminal.dim(" \(String(format: "%.1fs", Double(ms) / 1000))")
            case let .failed(m): text = Terminal.red("failed: \(m)")
            case let .skipped(m): text = Terminal.yellow("skipped: \(m)")
            }
        }
        lock.lock()
        defer { lock.unlock() }
        if !live {
            print("\(subject): \(text)")
            Terminal.flush()
            return
        }
        if lines[subject] == nil { order.append(subject) }
        lines[subject] = text
        var out = drawn > 0 ? "\u{1B}[\(drawn)A" : ""
        let width = order.map(\.count).max() ?? 0
        for name in order { out += "\u{1B}[2K" + name.padding(toLength: width, withPad: " ", startingAt: 0) + "  " + (lines[name] ?? "") + "\n" }
        drawn = order.count
        print(out, terminator: "")
        Terminal.flush()
    }

    private func subjectName(_ action: Plan.Action) -> String {
        switch action {
        case let .createNetwork(n): return "network \(n.name)"
        case let .removeNetwork(n): return "network \(n)"
        case let .createVolume(v), let .removeVolume(v): return "volume \(v)"
        case let .pullImage(i): return "image \(i)"
        case let .buildImage(b): return "image \(b.tag)"
        case let .remove(_, name): return name
        default: return "?"
        }
    }

    private func progressVerb(_ action: Plan.Action) -> String {
        switch action {
        case .createNetwork, .createVolume, .create: return "creating"
        case .pullImage: return "pulling"
        case .buildImage: return "building"
        case .recreate: return "recreating"
        case .start: return "starting"
        case .remove, .removeNetwork, .removeVolume: return "removing"
        case .waitHealthy: return "waiting until healthy"
        case .waitCompleted: return "waiting until completed"
        }
    }

    private func doneVerb(_ action: Plan.Action) -> String {
        switch action {
        case .createNetwork, .createVolume: return "created"
        case .create: return "started"
        case .pullImage: return "pulled"
        case .buildImage: return "built"
        case .recreate: return "recreated"
        case .start: return "started"
        case .remove, .removeNetwork, .removeVolume: return "removed"
        case .waitHealthy: return "healthy"
        case .waitCompleted: return "completed"
        }
    }
}
