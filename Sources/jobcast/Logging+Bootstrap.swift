import Foundation
import Logging

enum JobCastLogging {
    /// Logs to standard error at `JOBCAST_LOG_LEVEL` (trace, debug, info, notice, warning, error; default info).
    /// Only the executable does this; libraries take the `Logger` they are given.
    static func bootstrap() -> Logger {
        let level = ProcessInfo.processInfo.environment["JOBCAST_LOG_LEVEL"].flatMap(Logger.Level.init(rawValue:)) ?? .info
        LoggingSystem.bootstrap { label in
            var handler = StreamLogHandler.standardError(label: label)
            handler.logLevel = level
            return handler
        }
        return Logger(label: "jobcast")
    }
}
