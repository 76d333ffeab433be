import Foundation

/// A one-line progress bar with rate and ETA on standard error, drawn only when standard error is a terminal.
/// The total grows while the input is read; `~` marks an estimate (from the share of the input's bytes read).
struct PublishProgress {
    private(set) var total = 0
    private var estimated = false
    let enabled: Bool
    private let start = ContinuousClock.now
    private var lastDraw = ContinuousClock.now - .seconds(1)
    private var drawn = false

    init(enabled: Bool) {
        self.enabled = enabled
    }

    static var stderrIsTerminal: Bool { isatty(STDERR_FILENO) == 1 }

    mutating func update(done: Int, total: Int, estimated: Bool = false) {
        guard enabled else { return }
        self.total = max(total, done)
        self.estimated = estimated
        guard self.total > 0 else { return }
        let now = ContinuousClock.now
        guard now - lastDraw >= .milliseconds(100) || (done == total && !estimated) else { return }
        lastDraw = now
        draw(done: done, elapsed: now - start)
    }

    /// Removes the bar so that the summary prints on a clean line.
    mutating func finish() {
        guard enabled, drawn else { return }
        FileHandle.standardError.write(Data("\r\u{1B}[K".utf8))
        drawn = false
    }

    private mutating func draw(done: Int, elapsed: Duration) {
        let seconds = Double(elapsed.components.seconds) + Double(elapsed.components.attoseconds) / 1e18
        let rate = seconds > 0 ? Double(done) / seconds : 0
        let width = 30
        let filled = total == 0 ? width : width * done / total
        let bar = String(repeating: "█", count: filled) + String(repeating: "░", count: width - filled)
        let eta = rate > 0 ? Self.format(seconds: Double(total - done) / rate) : "--"
        let line = "\r\(bar) \(done)/\(estimated ? "~" : "")\(total) \(100 * done / max(total, 1))%  \(Int(rate))/s  ETA \(eta)\u{1B}[K"
        FileHandle.standardError.write(Data(line.utf8))
        drawn = true
    }

    static func format(seconds: Double) -> String {
        let whole = Int(seconds.rounded(.up))
        return whole >= 60 ? "\(whole / 60)m\(String(format: "%02d", whole % 60))s" : "\(whole)s"
    }
}
