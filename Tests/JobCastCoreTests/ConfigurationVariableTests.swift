import Foundation
import JobCastCore
import JobCastTestSupport
import Testing

/// The catalog of `JOBCAST_*` variables (`jobcast config`) against what the loaders really read: the compose
/// check (scripts/check-compose.sh) trusts the catalog, so the catalog must not drift from the code.
@Suite("The configuration variables' catalog")
struct ConfigurationVariableTests {
    /// Loads both settings from `environment`; the error, if any.
    func loadError(_ environment: [String: String]) -> SettingsError? {
        do {
            _ = try Settings(environment: environment)
            _ = try WorkerSettings(environment: environment)
            return nil
        } catch let error as SettingsError {
            return error
        } catch {
            Issue.record("unexpected error \(error)")
            return nil
        }
    }

    @Test("every variable said to accept NAME_FILE is read by the loader, through the file")
    func everyFileVariableIsRead() throws {
        let missing = "/nonexistent/jobcast-catalog-test"
        let fileVariables = ConfigurationVariable.all.filter(\.acceptsFile)
        #expect(fileVariables.count >= 20)
        for variable in fileVariables {
            // An unreadable file fails the load naming NAME_FILE, which proves the loader asked for NAME.
            let error = loadError([variable.name + "_FILE": missing])
            #expect(error?.variable == variable.name + "_FILE", "\(variable.name)_FILE was not read by Settings or WorkerSettings")
        }
    }

    @Test("a variable given by file is the file's content, trimmed")
    func fileGivesTheValue() throws {
        let path = FileManager.default.temporaryDirectory.appendingPathComponent("jobcast-catalog-\(UUID().uuidString)").path
        try Data("amqp://jobcast:s3cret@broker:5672/%2F\n".utf8).write(to: URL(fileURLWithPath: path))
        defer { try? FileManager.default.removeItem(atPath: path) }
        let settings = try Settings(environment: ["JOBCAST_AMQP_URL_FILE": path])
        #expect(settings.amqpURL == "amqp://jobcast:s3cret@broker:5672/%2F")
        let worker = try WorkerSettings(environment: ["JOBCAST_DATABASE_URL_FILE": path])
        #expect(worker.databaseURL == "amqp://jobcast:s3cret@broker:5672/%2F")
    }

    @Test("every JOBCAST_ name in Sources is in the catalog, and every catalog name is used in Sources")
    func sourcesAndCatalogAgree() throws {
        let catalog = Set(ConfigurationVariable.all.map(\.name))
        #expect(catalog.count == ConfigurationVariable.all.count, "a variable is listed twice")
        let sources = RepositoryPaths.url("Sources")
        let files = FileManager.default.enumerator(at: sources, includingPropertiesForKeys: nil)!.compactMap { $0 as? URL }
            .filter { $0.pathExtension == "swift" }
        #expect(files.count > 20)
        let pattern = try Regex("JOBCAST_[A-Z0-9_]+")
        var usedOutsideCatalog: Set<String> = []
        for file in files {
            let text = try String(contentsOf: file, encoding: .utf8)
            let names = Set(text.matches(of: pattern).map { String(text[$0.range]) })
            for name in names {
                #expect(ConfigurationVariable.named(name) != nil, "\(file.lastPathComponent) names \(name), which the catalog does not list")
            }
            if file.lastPathComponent != "ConfigurationVariable.swift" { usedOutsideCatalog.formUnion(names) }
        }
        for name in catalog.subtracting(usedOutsideCatalog).sorted() {
            Issue.record("\(name) is in the catalog but no source file outside it names it")
        }
    }

    @Test("--print-config names only catalog variables; the secrets are marked; every role requires something")
    func printConfigAndSecrets() throws {
        let lines = try Settings(environment: [:]).lines + WorkerSettings(environment: [:]).lines
        for line in lines {
            let name = String(line.prefix { $0 != "=" })
            #expect(ConfigurationVariable.named(name) != nil, "--print-config shows \(name), which the catalog does not list")
        }
        let secrets = Set(ConfigurationVariable.all.filter(\.secret).map(\.name))
        #expect(
            secrets.isSuperset(of: ["JOBCAST_PLATFORM_TOKEN", "JOBCAST_WECHAT_SECRET", "JOBCAST_HTTP_TOKEN", "JOBCAST_AMQP_URL", "JOBCAST_DATABASE_URL"]))
        #expect(ConfigurationVariable.named("JOBCAST_PLATFORM_TOKEN_FILE")?.name == "JOBCAST_PLATFORM_TOKEN")
        #expect(ConfigurationVariable.named("JOBCAST_LOG_LEVEL_FILE") == nil)
        for role in ConfigurationVariable.Role.allCases {
            #expect(ConfigurationVariable.all.contains { $0.requiredBy.contains(role) }, "no variable is required by \(role)")
        }
    }
}
