import Foundation
import JobCastCore
import Logging

enum JobCastLogging {
    /// Logs to standard error at `JOBCAST_LOG_LEVEL` (trace, debug, info, notice, warning, error; default info),
    /// with phone numbers masked in every message and metadata value (``PhoneMasking``).
    /// Only the executable does this; libraries take the `Logger` they are given.
    static func bootstrap() -> Logger {
        let level = ProcessInfo.processInfo.environment["JOBCAST_LOG_LEVEL"].flatMap { Logger.Level(rawValue: $0.lowercased()) } ?? .info
        LoggingSystem.bootstrap { label in
            var handler = StreamLogHandler.standardError(label: label)
            handler.logLevel = level
            return PhoneMaskingLogHandler(wrapping: handler)
        }
        return Logger(label: "jobcast")
    }
}

/// Hands every record to another handler with phone numbers masked: postings carry contact phones, and a
/// validation error, a dead letter's reason or a channel's answer can quote one.
struct PhoneMaskingLogHandler: LogHandler {
    var wrapped: any LogHandler

    init(wrapping handler: any LogHandler) { wrapped = handler }

    var logLevel: Logger.Level {
        get { wrapped.logLevel }
        set { wrapped.logLevel = newValue }
    }

    var metadata: Logger.Metadata {
        get { wrapped.metadata }
        set { wrapped.metadata = newValue }
    }

    var metadataProvider: Logger.MetadataProvider? {
        get { wrapped.metadataProvider }
        set { wrapped.metadataProvider = newValue }
    }

    subscript(metadataKey key: String) -> Logger.Metadata.Value? {
        get { wrapped[metadataKey: key] }
        set { wrapped[metadataKey: key] = newValue }
    }

    func log(event: LogEvent) {
        var event = event
        event.message = "\(PhoneMasking.mask(event.message.description))"
        event.metadata = event.metadata.map { Self.mask($0) }
        wrapped.log(event: event)
    }

    static func mask(_ metadata: Logger.Metadata) -> Logger.Metadata { metadata.mapValues(mask) }

    static func mask(_ value: Logger.Metadata.Value) -> Logger.Metadata.Value {
        switch value {
        case .string(let text): .string(PhoneMasking.mask(text))
        case .stringConvertible(let item): .string(PhoneMasking.mask(item.description))
        case .array(let items): .array(items.map(mask))
        case .dictionary(let items): .dictionary(items.mapValues(mask))
        }
    }
}
