import AMQP
import ArgumentParser
import JobCastBroker

/// The one place that maps outcomes and errors to the `jobcast` exit status. Commands end with
/// `throw ExitCodes.exit(for: error)` (or `.ok`/`.rejected`), and `--help` and the README show ``helpText``.
enum ExitCodes {
    /// Everything was done (published, or with `--dry-run` everything is valid).
    static let ok = ExitCode(0)
    /// Some postings were rejected (invalid, or a duplicate id); the valid ones were published unless `--strict`.
    static let rejected = ExitCode(1)
    /// An input file could not be read (missing, unreadable), or the configuration is wrong.
    static let input = ExitCode(2)
    /// The broker could not be reached, or was lost and did not come back within the reconnect timeout.
    static let brokerUnreachable = ExitCode(3)
    /// The broker would not take the postings: no queue bound (unroutable), no exchange, or refused (nack).
    static let refused = ExitCode(4)
    /// Wrong options or arguments (swift-argument-parser's own code, EX_USAGE).
    static let usage = ExitCode.validationFailure

    /// The exit code for an error thrown while publishing.
    static func exit(for error: any Error) -> ExitCode {
        switch error {
        case let error as PublisherError:
            switch error.code {
            case .brokerUnreachable: return brokerUnreachable
            default: return refused
            }
        case let error as AMQPError:
            return error.code == .invalidURL ? input : brokerUnreachable
        case let error as ExitCode:
            return error
        default:
            return input
        }
    }

    /// For the commands' `--help`.
    static let helpText = """
        Exit status: 0 all published (with --dry-run: all valid); 1 some postings rejected (the valid ones were \
        published unless --strict); 2 an input file or a setting cannot be read; 3 the broker cannot be reached \
        (or was lost for longer than --reconnect-timeout); 4 the broker would not take the postings (no queue \
        bound: run `jobcast topology` or start a worker); 64 wrong options.
        """
}
