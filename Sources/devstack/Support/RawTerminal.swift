import Dispatch
import Foundation
import Reconciler

/// The user's terminal handed to a process in a container, as `docker exec -it` does: raw mode
/// (keys go through unprocessed, Ctrl-C included), the window's size and its changes.
struct RawTerminal {
    private var saved: termios

    /// Puts standard input in raw mode; `restore` puts it back.
    static func enter() -> RawTerminal? {
        var original = termios()
        guard tcgetattr(STDIN_FILENO, &original) == 0 else { return nil }
        var raw = original
        cfmakeraw(&raw)
        tcsetattr(STDIN_FILENO, TCSANOW, &raw)
        return RawTerminal(saved: original)
    }

    func restore() {
        var saved = self.saved
        tcsetattr(STDIN_FILENO, TCSANOW, &saved)
    }

    static func size() -> TerminalSize? {
        var window = winsize()
        guard ioctl(STDOUT_FILENO, UInt(TIOCGWINSZ), &window) == 0, window.ws_row > 0 else { return nil }
        return TerminalSize(rows: Int(window.ws_row), columns: Int(window.ws_col))
    }

    /// Standard input as it comes, read on a thread of its own; ends at end of file.
    static func keystrokes() -> AsyncStream<Data> {
        AsyncStream { continuation in
            let thread = Thread {
                var buffer = [UInt8](repeating: 0, count: 4096)
                while true {
                    let n = read(STDIN_FILENO, &buffer, buffer.count)
                    if n < 0 && errno == EINTR { continue }
                    if n <= 0 { break }
                    continuation.yield(Data(buffer[0..<n]))
                }
                continuation.finish()
            }
            thread.start()
        }
    }

    /// The window's new size after each SIGWINCH.
    static func resizes() -> AsyncStream<TerminalSize> {
        AsyncStream { continuation in
            signal(SIGWINCH, SIG_IGN)
            nonisolated(unsafe) let source = DispatchSource.makeSignalSource(signal: SIGWINCH, queue: .global())
            source.setEventHandler { if let size = size() { continuation.yield(size) } }
            source.resume()
            continuation.onTermination = { _ in source.cancel() }
        }
    }
}
