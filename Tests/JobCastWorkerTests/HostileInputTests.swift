import AMQP
import Foundation
import JobCastBroker
import JobCastCore
import JobCastTestSupport
import JobCastTestTraits
import Testing

/// The hostile-input corpus (Tests/HostileInput: cases/ and manifest.json, made by make-cases.py) fed through
/// `jobcast publish` and straight onto the exchange, with valid postings around every case: each case is
/// reported by the producer or dead-lettered by the worker with its reason (or, when it is valid input,
/// delivered safely), nothing crashes or sticks, the postings around it go through, and no script or
/// markup from a posting reaches a WeChat article's HTML.
@Suite("Hostile input", .requiresRabbitMQ)
struct HostileInputTests {
    struct Case: Decodable {
        var file: String
        var id: String
        /// `rejects` (nothing of it published), `rejects-some` (reported, its valid rest published) or `publishes`.
        var producer: String
        /// `dead`, `delivered`, `withdrawn` or `expired` (recorded so on both channels, delivered nowhere).
        var worker: String
        var reason: String?
        var generate: String?
        var note: String?
    }

    static func cases() throws -> [Case] {
        try JSONDecoder().decode([Case].self, from: RepositoryPaths.data("Tests/HostileInput/manifest.json"))
    }

    /// A case's bytes: the stored file, or the generated 10 MB posting.
    static func body(of item: Case) throws -> Data {
        if item.generate == "ten-megabytes" {
            guard case .object(var object) = try SampleData.jsonValues()[0] else { throw HarnessError(description: "samples") }
            object["id"] = .string(item.id)
            object["requirements"] = .string(String(repeating: "身体健康，能吃苦耐劳。", count: 10 * 1024 * 1024 / 30))
            return try JSONEncoder().encode(JSONValue.object(object))
        }
        return try RepositoryPaths.data("Tests/HostileInput/cases/" + item.file)
    }

    /// What goes onto the exchange for a case: one message, or one per line of a .jsonl case.
    static func messages(of item: Case) throws -> [Data] {
        let data = try body(of: item)
        guard item.file.hasSuffix(".jsonl") else { return [data] }
        return data.split(separator: UInt8(ascii: "\n")).map { Data($0) }
    }

    /// A valid posting with this id.
    static func valid(_ id: String) throws -> JSONValue {
        guard case .object(var object) = try SampleData.jsonValues()[1] else { throw HarnessError(description: "samples") }
        object["id"] = .string(id)
        return .object(object)
    }

    static let forbiddenInArticles = ["<script", "<img", "onerror=\"", "href=\"javascript", "</section><script"]

    @Test("the corpus has at least 50 cases and every case file exists")
    func corpusIsComplete() throws {
        let cases = try Self.cases()
        #expect(cases.count >= 50)
        #expect(Set(cases.map(\.id)).count == cases.count)
        for item in cases where item.generate == nil {
            #expect(FileManager.default.fileExists(atPath: RepositoryPaths.url("Tests/HostileInput/cases/" + item.file).path), "\(item.file)")
        }
    }

    @Test("straight onto the exchange: each case dead-lettered with its reason or delivered safely; the postings around it delivered")
    func ontoTheExchange() async throws {
        let harness = try await WorkerHarness.make()
        defer { harness.cleanUp() }
        let cases = try Self.cases()
        var messages: [(id: String, body: Data)] = []
        var around: [String] = []
        for (index, item) in cases.enumerated() {
            around.append("around-\(index)")
            messages.append((around.last!, try JSONEncoder().encode(try Self.valid(around.last!))))
            for body in try Self.messages(of: item) { messages.append((item.id, body)) }
        }
        around.append("around-last")
        messages.append((around.last!, try JSONEncoder().encode(try Self.valid(around.last!))))
        try await harness.publish(messages)

        try await harness.runUntilEmpty()

        let delivered = try harness.platformOutboxIDs()
        #expect(Set(around).isSubset(of: delivered), "postings around the cases missing: \(Set(around).subtracting(delivered).sorted())")
        for channel in DeliveryChannel.allCases {
            let letters = try await harness.deadLetters(channel)
            var reasons: [String: [String]] = [:]
            for letter in letters {
                reasons[letter.properties.messageId ?? "?", default: []].append(letter.properties.headers?["x-jobcast-reason"]?.stringValue ?? "")
            }
            for item in cases {
                let got = reasons[item.id] ?? []
                if item.worker == "dead" {
                    #expect(got.count == 1, "\(channel.rawValue): \(item.file) should be dead-lettered once, is \(got.count) times")
                    #expect(got.allSatisfy { $0.hasPrefix(item.reason ?? "?") }, "\(channel.rawValue): \(item.file) dead with \(got), expected \(item.reason ?? "")")
                } else {
                    #expect(got.isEmpty, "\(channel.rawValue): \(item.file) dead-lettered: \(got)")
                }
            }
            #expect(reasons.keys.allSatisfy { !$0.hasPrefix("around-") }, "valid postings dead-lettered: \(reasons.keys.filter { $0.hasPrefix("around-") })")
        }
        for item in cases where item.worker == "delivered" {
            #expect(delivered.contains(item.id), "\(item.file) was not delivered to the platform")
        }
        let store = try await harness.openStore()
        for item in cases where item.worker == "expired" {
            #expect(!delivered.contains(item.id), "\(item.file) is past its validUntil but reached the platform")
            let outcomes = try await store.history(postingID: item.id).map(\.outcome)
            #expect(outcomes == [.expired, .expired], "\(item.file): \(outcomes)")
        }
        try await store.close()
        try expectSafeArticles(harness)
        let figures = try await harness.figures()
        let platform = figures.totals.channels.first { $0.channel == .platform }
        #expect(platform?.postingsDelivered == around.count + cases.filter { $0.worker == "delivered" }.count)
    }

    @Test("through jobcast publish: each case reported by the producer or published; the postings around it published and delivered")
    func throughPublish() async throws {
        let harness = try await WorkerHarness.make()
        defer { harness.cleanUp() }
        try await harness.publish([])  // the topology, so that the producer's postings are routed
        let cases = try Self.cases()
        let binary = try JobCastBinary.url()
        var around: [String] = []
        for (index, item) in cases.enumerated() {
            let before = harness.directory.appendingPathComponent("before-\(index).json")
            let after = harness.directory.appendingPathComponent("after-\(index).json")
            try JSONEncoder().encode(try Self.valid("before-\(index)")).write(to: before)
            try JSONEncoder().encode(try Self.valid("after-\(index)")).write(to: after)
            around += ["before-\(index)", "after-\(index)"]
            var file = RepositoryPaths.url("Tests/HostileInput/cases/" + item.file)
            if item.generate != nil {
                file = harness.directory.appendingPathComponent(item.file)
                try Self.body(of: item).write(to: file)
            }
            let result = try await runProcess(
                binary, ["publish", before.path, file.path, after.path], environment: ["JOBCAST_AMQP_URL": harness.brokerURL, "NO_COLOR": "1"])
            #expect(!result.stderr.contains("Fatal error"), "\(item.file): \(result.stderr.prefix(500))")
            if item.producer.hasPrefix("rejects") {
                #expect(result.status == 1, "\(item.file): exit \(result.status), \(result.stderr.prefix(500))")
                // Reported clearly: the file named, with a line and what is wrong.
                #expect(result.stderr.contains(file.path + ":"), "\(item.file): \(result.stderr.prefix(500))")
            } else {
                #expect(result.status == 0, "\(item.file): exit \(result.status), \(result.stderr.prefix(500))")
            }
        }

        try await harness.runUntilEmpty()

        let delivered = try harness.platformOutboxIDs()
        #expect(Set(around).isSubset(of: delivered), "postings around the cases missing: \(Set(around).subtracting(delivered).sorted().prefix(10))")
        for item in cases where item.producer == "publishes" && item.worker == "delivered" {
            #expect(delivered.contains(item.id), "\(item.file) was not delivered to the platform")
        }
        for item in cases where item.producer == "rejects" {
            #expect(!delivered.contains(item.id), "\(item.file) was rejected by the producer but reached the platform")
        }
        for channel in DeliveryChannel.allCases {
            let letters = try await harness.deadLetters(channel)
            #expect(letters.isEmpty, "\(channel.rawValue): \(letters.map { ($0.properties.messageId ?? "?", $0.properties.headers?["x-jobcast-reason"]?.stringValue ?? "") })")
        }
        try expectSafeArticles(harness)
    }

    func expectSafeArticles(_ harness: WorkerHarness) throws {
        let articles = try harness.wechatArticles()
        #expect(!articles.isEmpty)
        for html in articles {
            let lowered = html.lowercased()
            for forbidden in Self.forbiddenInArticles {
                #expect(!lowered.contains(forbidden), "a WeChat article contains \(forbidden)")
            }
            #expect(!html.contains("\u{0}"), "a WeChat article contains a NUL character")
        }
        // The escaped text is there: the script case was delivered, as text.
        #expect(articles.contains { $0.contains("&lt;script&gt;alert(1)&lt;/script&gt;") })
    }
}
