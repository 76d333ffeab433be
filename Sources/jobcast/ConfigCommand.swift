import ArgumentParser
import Foundation
import JobCastCore

struct ConfigCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "config",
        abstract: "List every JOBCAST_* variable jobcast reads: default, whether it is a secret, who requires it, meaning.",
        discussion: """
            Every variable read through the settings loader may instead name a file with NAME_FILE (container secrets: \
            JOBCAST_PLATFORM_TOKEN_FILE=/run/secrets/platform_token). "required by" names the fleet's processes \
            (the compose services platform-worker, wechat-worker, dashboard) that must set it in production; \
            scripts/check-compose.sh holds docker-compose.yml to this list. The values in effect: jobcast worker --print-config.
            """)

    @Flag(help: "Print the list as JSON (name, defaultValue, secret, acceptsFile, requiredBy, meaning).")
    var json = false

    func run() throws {
        if json {
            let encoder = JSONEncoder()
            encoder.outputFormatting = [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes]
            print(String(decoding: try encoder.encode(ConfigurationVariable.all), as: UTF8.self))
            return
        }
        for variable in ConfigurationVariable.all {
            var facts = ["default: \(variable.defaultValue ?? "(none)")"]
            if variable.secret { facts.append("secret") }
            if variable.acceptsFile { facts.append("or \(variable.name)_FILE") }
            if !variable.requiredBy.isEmpty { facts.append("required by \(variable.requiredBy.map(\.rawValue).joined(separator: ", "))") }
            print("\(variable.name)  (\(facts.joined(separator: "; ")))")
            print("    \(variable.meaning)")
        }
    }
}
