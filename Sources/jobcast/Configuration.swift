import AMQP
import Foundation
import JobCastCore
import JobCastStore

/// Every `JOBCAST_*` setting, read and checked once when a command starts: ``Settings`` and ``WorkerSettings``
/// (JobCastCore, each value through the checked reader its catalog kind names), then what other modules parse: the
/// broker URLs (AMQP) and the store's URL (JobCastStore). A bad value stops the command with exit 2 and one line on
/// standard error naming the variable, what it allows and what it got (redacted if secret); `jobcast config` lists
/// the variables, and `jobcast worker --print-config` shows the values in effect.
struct Configuration {
    var settings: Settings
    var worker: WorkerSettings
    var brokers: [AMQPConfiguration]
    var database: DeliveryStoreFactory.Location

    /// Throws the ``SettingsError`` of the first bad value.
    init(environment: [String: String] = ProcessInfo.processInfo.environment) throws {
        settings = try Settings(environment: environment)
        worker = try WorkerSettings(environment: environment)
        do {
            brokers = try AMQPConfiguration.list(settings.amqpURL)
        } catch {
            throw EnvironmentReader.refusal("JOBCAST_AMQP_URL", got: settings.amqpURL, reason: "\(error)")
        }
        do {
            database = try DeliveryStoreFactory.Location(url: worker.databaseURL, workingDirectory: FileManager.default.currentDirectoryPath)
        } catch {
            throw EnvironmentReader.refusal("JOBCAST_DATABASE_URL", got: worker.databaseURL ?? "", reason: "\(error)")
        }
    }

    /// The configuration, or exit 2 after printing `jobcast: configuration error: VARIABLE: …` on standard error.
    static func loadOrExit() throws -> Configuration {
        do {
            return try Configuration()
        } catch {
            printError("jobcast: configuration error: \(error)")
            throw ExitCodes.input
        }
    }
}
