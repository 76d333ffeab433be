import Foundation

/// JobCast's configuration, read from `JOBCAST_*` environment variables: the one place that knows their
/// names and defaults. A secret may also come from a file named by the same variable with `_FILE`
/// appended (`JOBCAST_AMQP_URL_FILE=/run/secrets/amqp_url`), as container secrets are mounted.
public struct Settings: Sendable {
    public static let defaultAMQPURL = "amqp://guest:guest@127.0.0.1:5672/%2F"

    /// `JOBCAST_AMQP_URL`: one broker URL, or a comma-separated list of a cluster's nodes.
    public var amqpURL: String

    public init(environment: [String: String] = ProcessInfo.processInfo.environment) throws {
        let reader = EnvironmentReader(environment: environment)
        amqpURL = try reader.value("JOBCAST_AMQP_URL") ?? Self.defaultAMQPURL
    }
}

/// Reads one variable, or its `_FILE` twin, with errors that name the variable.
public struct EnvironmentReader: Sendable {
    public var environment: [String: String]

    public init(environment: [String: String]) {
        self.environment = environment
    }

    public func value(_ name: String) throws -> String? {
        let fileVariable = name + "_FILE"
        if let path = environment[fileVariable], !path.isEmpty {
            if let direct = environment[name], !direct.isEmpty {
                throw SettingsError(variable: name, message: "both \(name) and \(fileVariable) are set; keep one")
            }
            guard let contents = FileManager.default.contents(atPath: path), let text = String(data: contents, encoding: .utf8) else {
                throw SettingsError(variable: fileVariable, message: "cannot read \(path); check that the file exists and is readable")
            }
            return text.trimmingCharacters(in: .whitespacesAndNewlines)
        }
        guard let direct = environment[name], !direct.isEmpty else { return nil }
        return direct
    }
}

public struct SettingsError: Error, CustomStringConvertible, Sendable {
    public var variable: String
    public var message: String

    public var description: String { "\(variable): \(message)" }
}
