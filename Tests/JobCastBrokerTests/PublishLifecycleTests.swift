import AMQP
import Foundation
import JobCastCore
import JobCastTestSupport
import Testing

/// `jobcast publish` and a posting's lifecycle: closed postings are refused one line each while the others go out,
/// `--dates-relative-to` keeps a file written for another day open, and every message carries its version.
@Suite("jobcast publish: expiry and versions")
struct PublishLifecycleTests {
    static let samples = RepositoryPaths.url("Samples/spring-job-fair.jsonl").path
    /// Samples whose validUntil is 2023-04-30, the earliest date of the fair.
    static let closingFirst = 8

    func publish(_ arguments: [String], now: String, url: String = TestNodes.url) async throws -> CLIResult {
        try await runProcess(try JobCastBinary.url(), ["publish"] + arguments, environment: ["JOBCAST_AMQP_URL": url, "JOBCAST_NOW": now])
    }

    @Test("after 2023-04-30 ends in Shanghai: those postings are refused with a clear line each, the others published; --dry-run says the same")
    func expiredPostingsAreRefused() async throws {
        // 2023-05-01 00:00:01 in Shanghai is still 2023-04-30 in UTC: the zone decides.
        let now = "2023-04-30T16:00:01Z"
        let dry = try await publish(["--dry-run", Self.samples], now: now)
        #expect(dry.status == 1, "\(dry.stderr)")
        let lines = dry.stderr.split(separator: "\n").filter { $0.contains("/validUntil: expired:") }
        #expect(lines.count == Self.closingFirst, "\(dry.stderr)")
        #expect(lines.allSatisfy { $0.hasPrefix(Self.samples + ":") && $0.contains("the end of 2023-04-30 (Asia/Shanghai)") }, "\(lines.first ?? "")")
        #expect(dry.stdout.contains("\(59 - Self.closingFirst) of 59 postings valid"), "\(dry.stdout)")

        try await TestExchange.with { setup in
            let result = try await publish([Self.samples, "--exchange", setup.exchange], now: now, url: setup.url)
            #expect(result.status == 1, "\(result.stderr)")
            let messages = try await setup.messages()
            #expect(messages.count == 59 - Self.closingFirst)
            for message in messages {
                guard case .publish(let posting) = try PostingMessage.decode(message.body) else { continue }
                #expect(posting.validUntil > "2023-04-30")
            }
        }
        // One second earlier the 30th has not ended: everything is open.
        let before = try await publish(["--dry-run", Self.samples], now: "2023-04-30T15:59:59Z")
        #expect(before.status == 0, "\(before.stderr)")
        // Another zone moves the end of the day.
        let utc = try await runProcess(
            try JobCastBinary.url(), ["publish", "--dry-run", Self.samples],
            environment: ["JOBCAST_NOW": now, "JOBCAST_POSTING_TIMEZONE": "UTC"])
        #expect(utc.status == 0, "\(utc.stderr)")
    }

    @Test("--dates-relative-to keeps the 2023 samples open on any date, all 59 with their 49,228 positions; each message carries its version")
    func datesRelativeAndVersions() async throws {
        let started = Int64(Date().timeIntervalSince1970 * 1000)
        try await TestExchange.with { setup in
            // On the real clock (JOBCAST_NOW emptied), the file as written is closed…
            let closed = try await publish(["--dry-run", Self.samples], now: "")
            #expect(closed.status == 1)
            // …and moved from 2023-03-01 to today it is open.
            let result = try await publish(
                ["--dates-relative-to", "2023-03-01", "--json", Self.samples, "--exchange", setup.exchange], now: "", url: setup.url)
            #expect(result.status == 0, "\(result.stderr)")
            let summary = try JSONValue(data: Data(result.stdout.utf8))
            #expect(summary["published"]?.integerValue == 59)
            #expect(summary["employers"]?.integerValue == SampleData.employers)
            #expect(summary["positions"]?.integerValue == SampleData.positions)
            let messages = try await setup.messages()
            #expect(messages.count == 59)
            let clock = PostingClock()
            let shift = clock.today.daysSinceEpoch - CalendarDate("2023-03-01")!.daysSinceEpoch
            var versions: [Int64] = []
            for message in messages {
                guard case .publish(let posting) = try PostingMessage.decode(message.body) else { continue }
                #expect(!clock.hasExpired(validUntil: posting.validUntil))
                let original = try #require(try SampleData.postings().first { $0.id == posting.id })
                #expect(posting.validUntil == CalendarDate(original.validUntil)!.adding(days: shift).text)
                let header = try #require(message.properties.headers?[PostingVersion.header]?.stringValue)
                versions.append(try #require(PostingVersion.milliseconds(rfc3339: header)))
            }
            // Stamped at publishing, strictly increasing in the file's order.
            #expect(versions.allSatisfy { $0 >= started && $0 <= Int64(Date().timeIntervalSince1970 * 1000) })
            #expect(versions == versions.sorted() && Set(versions).count == versions.count)
        }
    }

    @Test("--at sets publishAt on every posting of the files (withdrawals untouched); a time without an offset is refused")
    func publishAt() async throws {
        try await TestExchange.with { setup in
            let result = try await publish(["--at", "2026-03-02T08:00:00+08:00", Self.samples, "--exchange", setup.exchange], now: SampleData.now, url: setup.url)
            #expect(result.status == 0, "\(result.stderr)")
            let messages = try await setup.messages()
            #expect(messages.count == 59)
            for message in messages {
                guard case .publish(let posting) = try PostingMessage.decode(message.body) else { continue }
                #expect(posting.publishAt == "2026-03-02T08:00:00+08:00")
            }
        }
        let bad = try await publish(["--at", "2026-03-02 08:00", "--dry-run", Self.samples], now: SampleData.now)
        #expect(bad.status == 64, "\(bad.stderr)")
        #expect(bad.stderr.contains("--at must be an RFC 3339 time"))
    }

    @Test("an updatedAt ahead of the system clock (JOBCAST_NOW or not) is refused with the reason and the fix; a few minutes ahead is clock skew and passes")
    func futureUpdatedAt() async throws {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("jobcast-future-\(UUID().uuidString.prefix(8))")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: directory) }
        let samples = try SampleData.jsonValues()
        let now = Date()
        func stamped(_ value: JSONValue, _ id: String, _ offset: TimeInterval) -> String {
            guard case .object(var object) = value else { return "" }
            object["id"] = .string(id)
            object["updatedAt"] = .string(PostingVersion.rfc3339(milliseconds: Int64((now.timeIntervalSince1970 + offset) * 1000)))
            return String(decoding: try! JSONEncoder().encode(JSONValue.object(object)), as: UTF8.self)
        }
        let file = directory.appendingPathComponent("future.jsonl")
        let lines = [
            stamped(samples[0], "future-day", 86_400), stamped(samples[1], "future-skew", 60), stamped(samples[2], "past", -86_400),
            #"{"id": "future-withdrawal", "action": "withdraw", "updatedAt": "2099-01-01T00:00:00+08:00"}"#,
        ]
        try (lines.joined(separator: "\n") + "\n").write(to: file, atomically: true, encoding: .utf8)
        let dry = try await publish(["--dry-run", file.path], now: SampleData.now)
        #expect(dry.status == 1, "\(dry.stderr)")
        let refused = dry.stderr.split(separator: "\n").filter { $0.contains("/updatedAt: in the future:") }
        #expect(refused.count == 2, "\(dry.stderr)")
        #expect(refused.contains { $0.hasPrefix(file.path + ":1:") } && refused.contains { $0.hasPrefix(file.path + ":4:") }, "\(refused)")
        #expect(refused.allSatisfy { $0.contains("leave updatedAt out") }, "\(refused)")
        #expect(dry.stdout.contains("2 of 4"), "\(dry.stdout)")
    }

    @Test("RFC 3339 versions: offsets, fractions, leap days; what is not one is refused")
    func rfc3339() {
        #expect(PostingVersion.milliseconds(rfc3339: "1970-01-01T00:00:00Z") == 0)
        #expect(PostingVersion.milliseconds(rfc3339: "2026-03-01T09:30:00+08:00") == PostingVersion.milliseconds(rfc3339: "2026-03-01T01:30:00Z"))
        #expect(PostingVersion.milliseconds(rfc3339: "2026-03-01T01:30:00.250123Z") == 1_772_328_600_250)
        #expect(PostingVersion.milliseconds(rfc3339: "2024-02-29T12:00:00-05:30") != nil)
        for bad in ["2023-02-29T00:00:00Z", "2026-03-01 01:30:00Z", "2026-03-01T01:30:00", "2026-03-01T24:00:00Z", "2026-03-01T01:30:00.Z", "x"] {
            #expect(PostingVersion.milliseconds(rfc3339: bad) == nil, "\(bad)")
        }
        #expect(PostingVersion.milliseconds(rfc3339: "2026-03-01T01:30:00.5Z")! % 1000 == 500)
        for ms: Int64 in [0, 1_772_328_600_250, 951_782_400_000, 4_102_444_799_999] + (0..<1000).map { 1_772_328_600_000 + $0 } {
            #expect(PostingVersion.milliseconds(rfc3339: PostingVersion.rfc3339(milliseconds: ms)) == ms)
        }
    }
}
