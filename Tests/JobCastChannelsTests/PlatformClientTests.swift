import AsyncHTTPClient
import ChannelStandIns
import Foundation
import JobCastCore
import JobCastTestSupport
import Logging
import Testing

@testable import JobCastChannels

/// The platform client against a real HTTP server on loopback (``PlatformStandIn``).
@Suite struct PlatformClientTests {
    static let logger = Logger(label: "platform-client-tests")

    /// Runs `body` with a started stand-in and a client pointed at it; stops the stand-in after.
    static func withPlatform(
        timeout: Duration = .seconds(5), maxResponseBytes: Int = 64 * 1024,
        _ body: (PlatformStandIn, PlatformClient) async throws -> Void
    ) async throws {
        let standIn = PlatformStandIn()
        let base = try await standIn.start()
        let client = PlatformClient(
            configuration: .init(baseURL: base + "/", token: standIn.token, timeout: timeout, maxResponseBytes: maxResponseBytes),
            logger: logger)
        do {
            try await body(standIn, client)
        } catch {
            await standIn.stop()
            throw error
        }
        await standIn.stop()
    }

    static func sampleBody() throws -> (id: String, body: Data) {
        let posting = try #require(try SampleData.postings().first)
        return (posting.id, try PlatformRenderer(templates: try Fixtures.templates()).body(for: posting))
    }

    @Test func putDeliversTheExactBodyWithTheBearerToken() async throws {
        let (id, body) = try Self.sampleBody()
        try await Self.withPlatform { standIn, client in
            #expect(await client.put(id: id, body: body) == .delivered(status: 201))
            #expect(await client.put(id: id, body: body) == .delivered(status: 200), "a redelivered PUT is harmless")
            let received = await standIn.requests
            #expect(received.count == 2)
            let first = try #require(received.first)
            #expect(first.method == "PUT")
            #expect(first.path == "/api/v1/jobs/\(id)")
            #expect(first.header("Authorization") == "Bearer platform-test-token")
            #expect(first.header("Content-Type")?.hasPrefix("application/json") == true)
            #expect(first.body == body, "the platform receives the rendered body byte for byte")
            #expect(await standIn.jobs[id] == body)
        }
    }

    @Test func theReceivedBodyValidatesAgainstThePlatformSchema() async throws {
        let (id, body) = try Self.sampleBody()
        try await Self.withPlatform { standIn, client in
            #expect(await client.put(id: id, body: body) == .delivered(status: 201))
            let received = try #require(await standIn.requests.first)
            let verdicts = try ReferenceValidator.validate(documents: [("job", received.body)], schema: "platform-job.schema.json")
            #expect(verdicts.values.map(\.valid) == [true], "\(verdicts)")
        }
    }

    @Test func deleteWithdrawsAndA404IsAlreadyGone() async throws {
        let (id, body) = try Self.sampleBody()
        try await Self.withPlatform { standIn, client in
            #expect(await client.put(id: id, body: body) == .delivered(status: 201))
            #expect(await client.delete(id: id) == .delivered(status: 204))
            #expect(await client.delete(id: id) == .alreadyGone(status: 404))
            let deletes = await standIn.requests.filter { $0.method == "DELETE" }
            #expect(deletes.count == 2)
            #expect(deletes.allSatisfy { $0.path == "/api/v1/jobs/\(id)" && $0.header("Authorization") == "Bearer platform-test-token" })
            #expect(deletes.allSatisfy { $0.body.isEmpty })
            #expect(await standIn.jobs[id] == nil)
        }
    }

    @Test func a404OnPutIsDeadNotGone() async throws {
        try await Self.withPlatform { standIn, client in
            await standIn.failNext(with: .status(404, body: "no such employer"))
            #expect(await client.put(id: "p-1", body: Data("{}".utf8)) == .dead(DeliveryFailure(.httpStatus, status: 404, reason: "HTTP 404: no such employer")))
        }
    }

    @Test func tooManyRequestsIsRetriedAfterRetryAfter() async throws {
        try await Self.withPlatform { standIn, client in
            await standIn.failNext(with: .tooManyRequests(retryAfterSeconds: 7))
            let result = await client.put(id: "p-1", body: Data("{}".utf8))
            guard case .retry(let failure) = result, case let (status, retryAfter) = (failure.status, failure.retryAfter) else {
                Issue.record("expected retry, got \(result)")
                return
            }
            #expect(status == 429)
            #expect(retryAfter == .seconds(7))
            #expect(await client.put(id: "p-1", body: Data("{}".utf8)) == .delivered(status: 201), "the fault answered one request only")
        }
    }

    @Test(arguments: [500, 502, 503, 408])
    func transientStatusesAreRetried(status: Int) async throws {
        try await Self.withPlatform { standIn, client in
            await standIn.failNext(2, with: .status(status, body: "upstream down"))
            #expect(await client.put(id: "p-1", body: Data("{}".utf8)) == .retry(DeliveryFailure(.httpStatus, status: status, reason: "HTTP \(status): upstream down")))
            #expect(await client.delete(id: "p-1") == .retry(DeliveryFailure(.httpStatus, status: status, reason: "HTTP \(status): upstream down")))
            #expect(await client.put(id: "p-1", body: Data("{}".utf8)) == .delivered(status: 201))
        }
    }

    @Test func a400IsDeadWithTheStatusAndAShortExcerptOfTheBody() async throws {
        let long = "{\"error\": \"salary.max is below salary.min\",   \"detail\": \"" + String(repeating: "很长的说明", count: 400) + "\"}"
        try await Self.withPlatform { standIn, client in
            await standIn.failNext(with: .status(400, body: long, headers: ["Content-Type": "application/json"]))
            let result = await client.put(id: "p-1", body: Data("{}".utf8))
            guard case .dead(let failure) = result, case let (status, reason) = (failure.status, failure.reason) else {
                Issue.record("expected dead, got \(result)")
                return
            }
            #expect(status == 400)
            #expect(reason.hasPrefix("HTTP 400: {\"error\": \"salary.max is below salary.min\", \"detail\""), "whitespace runs collapse: \(reason)")
            let excerpt = reason.dropFirst("HTTP 400: ".count)
            #expect(excerpt.count == 200 && excerpt.hasSuffix("…"), "\(excerpt.count) characters")
        }
    }

    @Test func aWrongTokenIsDead() async throws {
        let standIn = PlatformStandIn(token: "right")
        let base = try await standIn.start()
        let client = PlatformClient(configuration: .init(baseURL: base, token: "wrong"), logger: Self.logger)
        let result = await client.put(id: "p-1", body: Data("{}".utf8))
        await standIn.stop()
        #expect(result == .dead(DeliveryFailure(.httpStatus, status: 401, reason: "HTTP 401: {\"error\":\"unauthorized\"}")))
    }

    @Test func aServerSlowerThanTheTimeoutIsRetried() async throws {
        try await Self.withPlatform(timeout: .milliseconds(300)) { standIn, client in
            await standIn.failNext(with: .delay(.seconds(2)))
            let started = ContinuousClock.now
            let result = await client.put(id: "p-1", body: Data("{}".utf8))
            // The stand-in answers after 2 s; the client must not have waited for it. The bound is loose because a
            // loaded 2-core machine can delay the timeout itself by seconds; this is not a speed check.
            #expect(ContinuousClock.now - started < .seconds(30), "the client gave up at its timeout")
            #expect(result == .retry(DeliveryFailure(.transport, reason: "timed out")))
        }
    }

    @Test func noServerIsRetried() async throws {
        // Port 1 on loopback: nothing listens there, so the connection is refused.
        let client = PlatformClient(configuration: .init(baseURL: "http://127.0.0.1:1", token: "t", timeout: .seconds(2)), logger: Self.logger)
        let result = await client.put(id: "p-1", body: Data("{}".utf8))
        guard case .retry(let failure) = result, failure.cause == .transport, failure.status == nil, case let reason = failure.reason else {
            Issue.record("expected retry, got \(result)")
            return
        }
        #expect(!reason.isEmpty)
    }

    @Test func anEndlessResponseIsCutAtTheLimitNotReadToTheEnd() async throws {
        try await Self.withPlatform(timeout: .seconds(5), maxResponseBytes: 64 * 1024) { standIn, client in
            await standIn.failNext(with: .endlessBody)
            let result = await client.put(id: "p-1", body: Data("{}".utf8))
            // A client reading the whole body would time out (a retry) instead; no clock is needed to tell.
            #expect(result == .delivered(status: 200), "a client reading the whole body would time out instead")
        }
    }

    @Test func anOversizedErrorBodyIsReadOnlyUpToTheLimit() async throws {
        let reply = ChannelHTTP.Reply(status: 400, headers: [:], body: Data(String(repeating: "x", count: 10).utf8), truncated: true)
        #expect(PlatformClient.result(for: reply, isDelete: false) == .dead(DeliveryFailure(.httpStatus, status: 400, reason: "HTTP 400: xxxxxxxxxx")))
        try await Self.withPlatform(maxResponseBytes: 1024) { standIn, client in
            await standIn.failNext(with: .status(400, body: String(repeating: "y", count: 1_000_000)))
            let result = await client.put(id: "p-1", body: Data("{}".utf8))
            guard case .dead(let failure) = result, failure.status == 400, case let reason = failure.reason else {
                Issue.record("expected dead, got \(result)")
                return
            }
            #expect(reason.count <= "HTTP 400: ".count + 200)
        }
    }

    @Test func theIdIsOnePercentEncodedPathSegment() async throws {
        try await Self.withPlatform { standIn, client in
            #expect(await client.put(id: "a/b c?d", body: Data("{}".utf8)) == .delivered(status: 201))
            let request = try #require(await standIn.requests.first)
            #expect(request.path == "/api/v1/jobs/a%2Fb%20c%3Fd")
            #expect(await standIn.jobs["a/b c?d"] != nil)
        }
        let client = PlatformClient(configuration: .init(baseURL: "https://jobs.example.gov.cn/gateway//", token: "t"), logger: Self.logger)
        #expect(client.url(forPostingID: "KM-2023:spring.001") == "https://jobs.example.gov.cn/gateway/api/v1/jobs/KM-2023%3Aspring.001")
    }

    @Test func retryAfterTakesSecondsOrAnHTTPDate() {
        let now = Date(timeIntervalSince1970: 1_445_412_400)  // Wed, 21 Oct 2015 07:26:40 GMT
        #expect(ChannelHTTP.retryAfter("120", now: now) == .seconds(120))
        #expect(ChannelHTTP.retryAfter(" 0 ", now: now) == .seconds(0))
        #expect(ChannelHTTP.retryAfter("Wed, 21 Oct 2015 07:28:00 GMT", now: now) == .seconds(80))
        #expect(ChannelHTTP.retryAfter("Wed, 21 Oct 2015 07:00:00 GMT", now: now) == .seconds(0), "a past date is no wait")
        #expect(ChannelHTTP.retryAfter("soon", now: now) == nil)
        #expect(ChannelHTTP.retryAfter(nil, now: now) == nil)
    }
}
