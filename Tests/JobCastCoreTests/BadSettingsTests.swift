import Foundation
import JobCastCore
import JobCastTestSupport
import Testing

/// Every variable of `jobcast config --json`, given the bad values of its kind, against the real `jobcast` binary
/// (`jobcast worker --print-config`, which loads every setting and connects to nothing): each must stop it with
/// exit 2 and a line naming the variable, and no secret may appear in what it prints, whatever the URL's shape.
@Suite("Bad settings are refused by the jobcast binary")
struct BadSettingsTests {
    struct Entry: Decodable {
        var name: String
        var secret: Bool
        var acceptsFile: Bool
        var kind: ConfigurationVariable.Kind
        var minimum: Double?
        var maximum: Double?
    }

    /// The pieces of the secrets below: none may be printed.
    static let secretFragments = ["S3cret", "retPw", "Tok3nValue"]

    /// Bad values for a variable of this kind.
    static func badValues(_ entry: Entry, scratch: URL) throws -> [String] {
        func number(_ value: Double?) -> String { value.map { String(Int($0)) } ?? "0" }
        var values: [String]
        switch entry.kind {
        case .integer, .port:
            values = ["inf", "nan", "-1", "1.5", "12abc", "99999999999999999999", "0x10", String(Int(entry.maximum ?? 0) + 1)]
            if let minimum = entry.minimum, minimum > 0 { values.append(String(Int(minimum) - 1)) }
        case .seconds:
            values = ["inf", "nan", "-1", "1e308", "10m", "5ms", "1h", "0x10", "\(number(entry.maximum))1s", "-inf"]
        case .secondsList:
            values = ["inf", "5,,30", "5,-1", "5,30m", "0", "99999999999999999999", "5,nan", number(entry.maximum) + "1", "5,30,"]
        case .host:
            values = ["http://example.com", "127.0.0.1:9464", "exa mple", "a/b", "-bad-.example"]
        case .httpURL:
            values = ["jobs.example.gov.cn", "ftp://jobs.example.gov.cn", "http://", "https://jobs.example.gov.cn:99999", "http://exa mple.com"]
        case .amqpURL:
            values = [
                "user:S3cretPw@rabbit:5672",  // no scheme
                "http://user:S3cretPw@rabbit:5672/",  // wrong scheme
                "amqp://user:S3c,retPw@rabbit:99999/%2F",  // a raw comma in the password, a bad port
                "amqp://user:S3c@retPw@rabbit:99999/",  // a raw @ in the password, a bad port
                "us@er:S3cretPw@amqp://rabbit",  // an @ before ://
                "amqp://user:S3cretPw@rabbit:5672/%2F?heartbeat=-1",
                "amqp://user:S3cretPw@rabbit:5672/%2F?heartbeat=99999999999",
                "amqp://user:S3cretPw@rabbit:5672/%2F,ftp://user:S3cretPw@other/",
                "amqp://user:S3cretPw@rabbit/?bogus=1",
            ]
        case .databaseURL:
            values = [
                "mysql://user:S3cretPw@db/jobs", "postgres://user:S3cretPw@db:99999/jobs", "postgres://user:S3c@retPw@/jobs", "sqlite://",
                "user:S3cretPw@db/jobs",
            ]
        case .directory:
            let file = scratch.appendingPathComponent("a-file")
            try Data("x".utf8).write(to: file)
            values = [file.path]
            if entry.name == "JOBCAST_TEMPLATES_DIR" { values.append(scratch.appendingPathComponent("missing").path) }
        case .choice:
            values = ["loud", "inf", "info\nerror"]
        case .timeZone:
            values = ["Mars/Olympus", "Asia/Shanghai\nUTC", "../etc/passwd", "+08:00"]
        case .instant:
            values = ["2023-04-01", "2023-04-01T09:00:00", "2023-02-30T09:00:00+08:00", "yesterday", "1680310800"]
        case .text:
            values = entry.secret ? ["Tok3nValue\nsecond-line", "\u{1b}[31mTok3nValue"] : ["line\nbreak", "\u{1b}[31mred"]
        }
        return values
    }

    /// The environment that neutralises every catalog variable (empty is unset), plus `extra`.
    static func environment(_ catalog: [Entry], _ extra: [String: String]) -> [String: String] {
        var environment: [String: String] = [:]
        for entry in catalog {
            environment[entry.name] = ""
            if entry.acceptsFile { environment[entry.name + "_FILE"] = "" }
        }
        return environment.merging(extra) { $1 }
    }

    @Test("each variable's bad values: exit 2, the variable named, no secret printed")
    func everyBadValueIsRefused() async throws {
        let binary = try JobCastBinary.url()
        let listing = try await runProcess(binary, ["config", "--json"])
        #expect(listing.status == 0)
        let catalog = try JSONDecoder().decode([Entry].self, from: Data(listing.stdout.utf8))
        #expect(catalog.count == ConfigurationVariable.all.count)
        let scratch = FileManager.default.temporaryDirectory.appendingPathComponent("jobcast-bad-settings-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: scratch, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: scratch) }
        let empty = scratch.appendingPathComponent("empty")
        try Data().write(to: empty)
        let blank = scratch.appendingPathComponent("blank")
        try Data(" \n\n".utf8).write(to: blank)
        let notUTF8 = scratch.appendingPathComponent("gbk")
        try Data([0xC4, 0xE3, 0xBA, 0xC3]).write(to: notUTF8)

        var tried = 0
        for entry in catalog {
            var cases: [(variable: String, value: String)] = try Self.badValues(entry, scratch: scratch).map { (entry.name, $0) }
            if entry.acceptsFile {
                for path in [empty.path, blank.path, notUTF8.path, scratch.appendingPathComponent("nonexistent").path, scratch.path] {
                    cases.append((entry.name + "_FILE", path))
                }
            }
            for (variable, value) in cases {
                let result = try await runProcess(binary, ["worker", "--print-config"], environment: Self.environment(catalog, [variable: value]))
                let output = result.stdout + result.stderr
                let shown = "\(variable)=\(value.debugDescription)"
                #expect(result.status == 2, "\(shown): exit \(result.status), said: \(output)")
                #expect(output.contains(variable), "\(shown): the message does not name \(variable): \(output)")
                #expect(output.contains("allowed") || output.contains("cannot read"), "\(shown): the message says nothing of what is allowed: \(output)")
                for fragment in Self.secretFragments where output.contains(fragment) {
                    Issue.record("\(shown): the output shows a secret: \(output)")
                }
                tried += 1
            }
        }
        #expect(tried > 150)
    }

    @Test("the values a fleet uses are accepted")
    func goodValuesPass() async throws {
        let binary = try JobCastBinary.url()
        let listing = try await runProcess(binary, ["config", "--json"])
        let catalog = try JSONDecoder().decode([Entry].self, from: Data(listing.stdout.utf8))
        let good = [
            "JOBCAST_AMQP_URL": "amqp://user:S3c,retPw@n1:5672/%2F,amqps://user:S3cretPw@n2:5671/%2F?heartbeat=30",
            "JOBCAST_DATABASE_URL": "postgres://jobcast:S3cretPw@db:5432/jobcast",
            "JOBCAST_SHUTDOWN_TIMEOUT": "2.5s", "JOBCAST_WECHAT_DIGEST_WINDOW": "0.3", "JOBCAST_HTTP_TIMEOUT": "10",
            "JOBCAST_RETRY_DELAYS": "1, 5,30", "JOBCAST_HTTP_HOST": "0.0.0.0", "JOBCAST_HTTP_PORT": "0", "JOBCAST_LOG_LEVEL": "WARNING",
            "JOBCAST_DASHBOARD_HOST": "::1", "JOBCAST_WORKER_PREFETCH": "65535", "JOBCAST_HTTP_TOKEN": "Tok3nValue",
            "JOBCAST_POSTING_TIMEZONE": "UTC", "JOBCAST_NOW": "2023-04-01T09:00:00+08:00",
        ]
        let result = try await runProcess(binary, ["worker", "--print-config"], environment: Self.environment(catalog, good))
        #expect(result.status == 0, "\(result.stderr)")
        #expect(result.stdout.contains("JOBCAST_AMQP_URL=amqp://user@n1:5672/%2F,amqps://user@n2:5671/%2F"), "\(result.stdout)")
        #expect(result.stdout.contains("JOBCAST_LOG_LEVEL=warning"))
        for fragment in Self.secretFragments { #expect(!(result.stdout + result.stderr).contains(fragment)) }
    }
}
