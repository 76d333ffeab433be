import ChannelStandIns
import Foundation
import JobCastCore
import JobCastTestSupport
import JobCastTestTraits
import Testing

/// Secrets and phone numbers stay out of what operators read: `jobcast worker --print-config`, and the worker's
/// log (at debug level) while it delivers through the stand-ins with faults, bad postings and a refused request.
/// The other security checks live with their code: amqps with a verified CA and a refused wrong CA in
/// Tests/AMQPTests/AMQPTLSTests.swift; outbound HTTP timeouts and the response size limit in
/// Tests/JobCastChannelsTests/PlatformClientTests.swift (`.delay`, `.endlessBody`, `maxResponseBytes`).
@Suite("Secrets and phone numbers in logs")
struct SecretsInLogsTests {
    static let platformToken = "plat-TOKEN-7f3c9a1e55"
    static let wechatSecret = "wx-SECRET-0d4e8b2a91"
    static let amqpPassword = "amqp-PASS-b6d1f0c3e2"
    static let databasePassword = "db-PASS-9a8b7c6d5e"
    static let httpToken = "http-TOKEN-1c2d3e4f5a"
    static let phones = ["13917654321", "021-52561288", "0871-63130000"]

    static var secrets: [String] { [platformToken, wechatSecret, amqpPassword, databasePassword, httpToken] }

    @Test("--print-config shows every setting, no secret")
    func printConfig() async throws {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("jobcast-secrets-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: directory) }
        let tokenFile = directory.appendingPathComponent("platform_token")
        try Self.platformToken.write(to: tokenFile, atomically: true, encoding: .utf8)
        let environment = [
            "JOBCAST_AMQP_URL": "amqp://jobcast:\(Self.amqpPassword)@127.0.0.1:5701/%2F,amqps://jobcast:\(Self.amqpPassword)@127.0.0.1:5702/%2F",
            "JOBCAST_DATABASE_URL": "postgres://jobcast:\(Self.databasePassword)@127.0.0.1:55432/jobcast",
            "JOBCAST_PLATFORM_URL": "http://127.0.0.1:1", "JOBCAST_PLATFORM_TOKEN_FILE": tokenFile.path,
            "JOBCAST_WECHAT_APPID": "wx-app", "JOBCAST_WECHAT_SECRET": Self.wechatSecret, "JOBCAST_HTTP_TOKEN": Self.httpToken,
        ]
        let result = try await runProcess(try JobCastBinary.url(), ["worker", "--print-config"], environment: environment)
        #expect(result.status == 0, "\(result.stderr)")
        #expect(result.stdout.contains("JOBCAST_PLATFORM_TOKEN"))
        #expect(result.stdout.contains("JOBCAST_WECHAT_SECRET"))
        for secret in Self.secrets {
            #expect(!result.stdout.contains(secret) && !result.stderr.contains(secret), "--print-config shows \(secret)")
        }
    }

    @Test("the worker's debug log holds no secret, access token or phone number, through faults and dead letters", .requiresRabbitMQ)
    func workerLog() async throws {
        let harness = try await WorkerHarness.make()
        defer { harness.cleanUp() }
        let user = "secrets-\(UUID().uuidString.prefix(8))"
        try await WorkerHarness.rabbitmqctl(["add_user", user, Self.amqpPassword])
        defer { Task.detached { _ = try? await WorkerHarness.rabbitmqctl(["delete_user", user]) } }
        try await WorkerHarness.rabbitmqctl(["set_permissions", "-p", harness.vhost, user, ".*", ".*", ".*"])
        let brokerURL = harness.brokerURL.replacingOccurrences(of: "guest:guest@", with: "\(user):\(Self.amqpPassword)@")

        let platform = PlatformStandIn(token: Self.platformToken)
        let platformURL = try await platform.start()
        let wechat = WeChatStandIn(appID: "wx-secrets", secret: Self.wechatSecret)
        let wechatURL = try await wechat.start()
        // A 500, a timeout, and a refusal whose body echoes the posting's phone number.
        await platform.failNext(with: .status(500, body: "{\"error\":\"down\"}"))
        await platform.failNext(with: .delay(.seconds(6)))
        await platform.failNext(with: .status(422, body: "{\"error\":\"contact 13917654321 is not reachable\"}"))
        await wechat.failNext(errcode: 40001, errmsg: "invalid credential", on: .draftAdd)

        let samples = try SampleData.jsonValues()
        var postings: [JSONValue] = []
        for (index, phone) in Self.phones.enumerated() {
            guard case .object(var object) = samples[index] else { continue }
            object["id"] = .string("secret-\(index)")
            object["contact"] = .object(["name": .string("王经理"), "phone": .string(phone)])
            postings.append(.object(object))
        }
        // A phone number where a string belongs: the validation error must not quote it into the log.
        guard case .object(var bad) = samples[3] else { return }
        bad["id"] = .string("secret-bad-phone")
        bad["contact"] = .object(["phone": .number(13_917_654_321)])
        postings.append(.object(bad))
        try await harness.publish(postings: postings)

        let result = try await runProcess(
            try JobCastBinary.url(), ["worker", "--until-empty"],
            environment: [
                "JOBCAST_AMQP_URL": brokerURL, "JOBCAST_DATABASE_URL": "sqlite://" + harness.databasePath,
                "JOBCAST_PLATFORM_URL": platformURL, "JOBCAST_PLATFORM_TOKEN": Self.platformToken,
                "JOBCAST_WECHAT_API_BASE": wechatURL, "JOBCAST_WECHAT_APPID": wechat.appID, "JOBCAST_WECHAT_SECRET": Self.wechatSecret,
                "JOBCAST_WECHAT_THUMB_MEDIA_ID": "thumb", "JOBCAST_WECHAT_DIGEST_WINDOW": "0.3", "JOBCAST_HTTP_TIMEOUT": "2",
                "JOBCAST_RETRY_DELAYS": "1,1,2", "JOBCAST_HTTP_TOKEN": Self.httpToken, "JOBCAST_LOG_LEVEL": "debug",
            ])
        await platform.stop()
        await wechat.stop()
        #expect(result.status == 0, "\(result.stderr.suffix(2000))")
        let log = result.stdout + result.stderr
        // The run did go through the faults, and logged them.
        #expect(log.contains("dead-lettered"))
        #expect(await platform.requests.count >= 5)  // 500 and retry, timeout and retry, 422
        // The refusal's body and the validation error quoted the phone number: masked.
        #expect(log.contains("139****4321"), "\(log.suffix(3000))")
        #expect(await wechat.issuedTokens.count >= 2)
        for secret in Self.secrets {
            #expect(!log.contains(secret), "the worker log shows \(secret)")
        }
        for token in await wechat.issuedTokens {
            #expect(!log.contains("access_token=\(token)") && !log.contains("\"\(token)\""), "the worker log shows the access token \(token)")
        }
        for phone in Self.phones {
            #expect(!log.contains(phone), "the worker log shows the phone number \(phone)")
        }
        #expect(!log.contains("13917654321"))
    }
}
