import AMQP
import Foundation
import JobCastCore
import JobCastTestSupport
import JobCastTestTraits
import Testing

/// `jobcast publish` and `jobcast withdraw` as a user runs them, against the test node. Each test publishes to
/// an exchange of its own (the hidden `--exchange` option) with one queue bound with `#`, so that tests
/// running at once never see each other's postings.
@Suite("jobcast publish and withdraw against RabbitMQ", .serialized, .requiresRabbitMQ)
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

    @Test("a broker that takes the connection but never logs us in is waited for up to --reconnect-timeout, then exit 3")
    func silentBroker() async throws {
        let silent = try SilentListener()
        defer { silent.close() }
        let file = RepositoryPaths.url("Samples/spring-job-fair.json").path
        let result = try await CLI.run(
            ["publish", file, "--reconnect-timeout", "2"], url: "amqp://guest:guest@127.0.0.1:\(silent.port)/%2F?login_timeout=500")
        #expect(result.status == 3)
        #expect(result.stderr.contains("did not log us in within 0.5 s"), "\(result.stderr)")
        #expect(result.stderr.contains("did not log us in within"), "\(result.stderr)")
        #expect(result.stderr.contains("nothing was published"), "\(result.stderr)")
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

    /// `count` sample postings under ids of their own, as JSON Lines.
    static func generatedLines(count: Int, prefix: String) throws -> [String] {
        let samples = try SampleData.jsonValues()
        return (0..<count).map { index in
            guard case .object(var object) = samples[index % samples.count] else { fatalError("a sample that is not an object") }
            object["id"] = .string("\(prefix)-\(index)")
            return String(decoding: JSONValue.object(object).canonicalData, as: UTF8.self)
        }
    }

    @Test("postings are published while standard input is still being read (a slow pipe)", .timeLimit(.minutes(3)))
    func streamsWhileReading() async throws {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("jobcast-stream-\(UUID().uuidString.prefix(8))")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: directory) }
        let lines = try Self.generatedLines(count: 2000, prefix: "stream-\(UUID().uuidString.prefix(8))")
        let head = directory.appendingPathComponent("head.jsonl")
        let tail = directory.appendingPathComponent("tail.jsonl")
        let go = directory.appendingPathComponent("go")
        try (lines[..<100].joined(separator: "\n") + "\n").write(to: head, atomically: true, encoding: .utf8)
        try (lines[100...].joined(separator: "\n") + "\n").write(to: tail, atomically: true, encoding: .utf8)
        try await TestExchange.with { setup in
            // The producer writes 100 postings, then holds the pipe open until the test creates `go`.
            let pipeline = """
                { cat "\(head.path)"; while [ ! -e "\(go.path)" ]; do sleep 0.05; done; cat "\(tail.path)"; } \
                | "\(try JobCastBinary.url().path)" publish - --json --exchange "\(setup.exchange)"
                """
            let publishing = Task {
                try await runProcess(URL(fileURLWithPath: "/bin/bash"), ["-c", pipeline], environment: ["JOBCAST_AMQP_URL": setup.url])
            }
            // Before the rest of the input exists, the first postings must be on the queue (confirmed by the broker).
            var onQueueBeforeEnd = 0
            let deadline = ContinuousClock.now + .seconds(60)
            while ContinuousClock.now < deadline {
                let connection = try await TestNodes.connect(setup.url)
                onQueueBeforeEnd = Int(try await connection.queueStatus(setup.queue)?.messageCount ?? 0)
                await connection.close()
                if onQueueBeforeEnd > 0 { break }
                try await Task.sleep(for: .milliseconds(100))
            }
            FileManager.default.createFile(atPath: go.path, contents: nil)
            let result = try await publishing.value
            #expect(onQueueBeforeEnd > 0, "nothing reached the queue while standard input was still open: the input is read to its end before publishing")
            #expect(onQueueBeforeEnd <= 100)
            #expect(result.status == 0, "\(result.stderr)")
            #expect(try Self.summary(result)["published"] == 2000)
            let ids = try await setup.messages().compactMap(\.properties.messageId)
            #expect(Set(ids).count == 2000)
        }
    }

    @Test("--strict with one bad posting at the end of a large file sends nothing")
    func strictBadAtEnd() async throws {
        var lines = try Self.generatedLines(count: 5000, prefix: "strict-end-\(UUID().uuidString.prefix(8))")
        lines[4999] = lines[4999].replacingOccurrences(of: "\"headcount\":", with: "\"headcount\":-")
        let path = FileManager.default.temporaryDirectory.appendingPathComponent("jobcast-strict-\(UUID().uuidString.prefix(8)).jsonl").path
        try (lines.joined(separator: "\n") + "\n").write(toFile: path, atomically: true, encoding: .utf8)
        defer { try? FileManager.default.removeItem(atPath: path) }
        try await TestExchange.with { setup in
            let result = try await CLI.run(["publish", "--strict", path, "--json", "--exchange", setup.exchange])
            #expect(result.status == 1, "\(result.stderr)")
            #expect(result.stderr.contains("\(path):5000: /headcount: "), "\(result.stderr)")
            let summary = try Self.summary(result)
            #expect(summary["published"] == 0)
            #expect(summary["postings"] == 5000)
            #expect(summary["rejected"] == 1)
            #expect(try await setup.messages().isEmpty)
            // Without --strict the same file publishes the other 4,999.
            let loose = try await CLI.run(["publish", path, "--json", "--exchange", setup.exchange])
            #expect(loose.status == 1)
            #expect(try Self.summary(loose)["published"] == 4999)
        }
    }
}
