import AMQP
import Foundation
import JobCastCore
import JobCastTestSupport
import Testing

/// `jobcast publish` and `jobcast withdraw` as a user runs them, against the test node. Each test publishes to
/// an exchange of its own (the hidden `--exchange` option) with one queue bound with `#`, so that tests
/// running at once never see each other's postings.
@Suite("jobcast publish and withdraw against RabbitMQ", .serialized)
struct PublishCommandTests {
    static func summary(_ result: CLIResult) throws -> JSONValue {
        try JSONValue(data: Data(result.stdout.utf8))
    }

    @Test("the samples arrive complete, once each, as the wire contract says", arguments: PostingInputFormat.allCases)
    func samplesArrive(format: PostingInputFormat) async throws {
        let file = RepositoryPaths.url("Samples/spring-job-fair.\(format.rawValue)").path
        let expected = try SampleData.jsonValues()
        try await TestExchange.with { setup in
            let result = try await CLI.run(["publish", file, "--json", "--exchange", setup.exchange])
            #expect(result.status == 0, "\(result.stderr)")
            let summary = try Self.summary(result)
            #expect(summary["published"] == .number(Double(expected.count)))
            #expect(summary["employers"] == .number(Double(SampleData.employers)))
            #expect(summary["positions"] == .number(Double(SampleData.positions)))
            #expect(summary["rejected"] == 0)
            let messages = try await setup.messages()
            #expect(messages.count == expected.count)
            let byID = Dictionary(grouping: messages) { $0.properties.messageId ?? "" }
            #expect(Set(byID.keys) == Set(expected.compactMap { $0["id"]?.stringValue }))
            for value in expected {
                let id = value["id"]!.stringValue!
                guard let message = byID[id]?.first else { continue }
                #expect(byID[id]!.count == 1)
                #expect(message.routingKey == "posting.publish")
                #expect(message.properties.contentType == "application/json")
                #expect(message.properties.deliveryMode == .persistent)
                #expect(PostingValidator().validate(data: message.body).isEmpty)
                #expect(try JSONValue(data: message.body) == value)
            }
        }
    }

    /// The sample CSV with line 4 (salary min above max) and line 9 (no title) broken.
    static func badCSV() throws -> (path: String, badIDs: Set<String>) {
        var lines = String(decoding: try RepositoryPaths.data("Samples/spring-job-fair.csv"), as: UTF8.self)
            .split(separator: "\n", omittingEmptySubsequences: false).map(String.init)
        var bad: Set<String> = []
        func edit(_ line: Int, column: Int, to value: String) {
            var cells = lines[line - 1].split(separator: ",", omittingEmptySubsequences: false).map(String.init)
            bad.insert(cells[0])
            cells[column] = value
            lines[line - 1] = cells.joined(separator: ",")
        }
        edit(4, column: 7, to: "99999")  // salary.min above salary.max
        edit(9, column: 4, to: "")  // title missing
        let path = FileManager.default.temporaryDirectory.appendingPathComponent("jobcast-bad-\(UUID().uuidString.prefix(8)).csv").path
        try lines.joined(separator: "\n").write(toFile: path, atomically: true, encoding: .utf8)
        return (path, bad)
    }

    @Test("a file with bad rows publishes the good rows and reports each bad one with its line")
    func badRows() async throws {
        let (path, badIDs) = try Self.badCSV()
        defer { try? FileManager.default.removeItem(atPath: path) }
        try await TestExchange.with { setup in
            let result = try await CLI.run(["publish", path, "--exchange", setup.exchange])
            #expect(result.status == 1)
            #expect(result.stderr.contains("\(path):4: /salary/min: 99999 is above /salary/max"))
            #expect(result.stderr.contains("\(path):9: /title: "))
            #expect(result.stdout.contains("rejected 2"))
            let ids = Set(try await setup.messages().compactMap(\.properties.messageId))
            #expect(ids.count == 57)
            #expect(ids.isDisjoint(with: badIDs))
        }
    }

    @Test("--strict publishes nothing when a row is bad")
    func strict() async throws {
        let (path, _) = try Self.badCSV()
        defer { try? FileManager.default.removeItem(atPath: path) }
        try await TestExchange.with { setup in
            let result = try await CLI.run(["publish", "--strict", path, "--json", "--exchange", setup.exchange])
            #expect(result.status == 1)
            #expect(try Self.summary(result)["published"] == 0)
            #expect(try await setup.messages().isEmpty)
        }
    }

    @Test("--dry-run validates and publishes nothing")
    func dryRun() async throws {
        let file = RepositoryPaths.url("Samples/spring-job-fair.jsonl").path
        try await TestExchange.with { setup in
            let result = try await CLI.run(["publish", "--dry-run", file, "--exchange", setup.exchange])
            #expect(result.status == 0, "\(result.stderr)")
            #expect(result.stdout.contains("dry run: 59 of 59 postings valid"))
            #expect(try await setup.messages().isEmpty)
        }
    }

    @Test("standard input is read with the format guessed from the content")
    func standardInput() async throws {
        let data = try RepositoryPaths.data("Samples/spring-job-fair.jsonl")
        try await TestExchange.with { setup in
            let result = try await CLI.run(["publish", "-", "--json", "--exchange", setup.exchange], stdin: data)
            #expect(result.status == 0, "\(result.stderr)")
            #expect(try await setup.messages().count == 59)
        }
    }

    @Test("with no queue bound, publishing fails and says to run the topology step or start a worker")
    func unroutable() async throws {
        let file = RepositoryPaths.url("Samples/spring-job-fair.json").path
        try await TestExchange.with(bound: false) { setup in
            let result = try await CLI.run(["publish", file, "--exchange", setup.exchange])
            #expect(result.status == 4)
            #expect(result.stderr.contains("jobcast topology"))
            #expect(result.stderr.contains("unroutable"))
        }
    }

    @Test("an unreachable broker is exit status 3")
    func unreachable() async throws {
        let file = RepositoryPaths.url("Samples/spring-job-fair.json").path
        let result = try await CLI.run(["publish", file], url: "amqp://guest:guest@127.0.0.1:1/%2F")
        #expect(result.status == 3)
        #expect(result.stderr.contains("cannot reach the broker"))
    }

    @Test("jobcast withdraw sends valid withdrawals with routing key posting.withdraw; a bad id is rejected")
    func withdraw() async throws {
        try await TestExchange.with { setup in
            let result = try await CLI.run(["withdraw", "putuo-1", "putuo-2", "bad id!", "--exchange", setup.exchange])
            #expect(result.status == 1)
            #expect(result.stderr.contains("argument:3: /id: "))
            let messages = try await setup.messages()
            #expect(Set(messages.compactMap(\.properties.messageId)) == ["putuo-1", "putuo-2"])
            for message in messages {
                #expect(message.routingKey == "posting.withdraw")
                guard case .withdraw = try PostingMessage.decode(message.body) else {
                    Issue.record("not a withdrawal")
                    continue
                }
            }
        }
    }
}
