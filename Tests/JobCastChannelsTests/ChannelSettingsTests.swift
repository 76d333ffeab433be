import Foundation
import JobCastCore
import Testing

/// The channel settings in ``Settings``: defaults, `_FILE` secrets, checks, and no secret in what is printed.
@Suite struct ChannelSettingsTests {
    @Test func defaultsSendBothChannelsToTheOutbox() throws {
        let settings = try Settings(environment: [:])
        #expect(settings.platformURL == nil && settings.platformToken == nil)
        #expect(settings.wechatAPIBase == "https://api.weixin.qq.com")
        #expect(settings.wechatAppID == nil && settings.wechatSecret == nil && settings.wechatThumbMediaID == nil)
        #expect(settings.httpTimeout == .seconds(10))
    }

    @Test func secretsComeFromFilesAndAreNeverPrinted() throws {
        let folder = FileManager.default.temporaryDirectory.appendingPathComponent("jobcast-settings-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: folder) }
        try "platform-secret-token\n".write(to: folder.appendingPathComponent("token"), atomically: true, encoding: .utf8)
        try "wechat-app-secret\n".write(to: folder.appendingPathComponent("secret"), atomically: true, encoding: .utf8)
        let settings = try Settings(environment: [
            "JOBCAST_PLATFORM_URL": "https://jobs.example.gov.cn",
            "JOBCAST_PLATFORM_TOKEN_FILE": folder.appendingPathComponent("token").path,
            "JOBCAST_WECHAT_API_BASE": "http://127.0.0.1:8080",
            "JOBCAST_WECHAT_APPID": "wx1234",
            "JOBCAST_WECHAT_SECRET_FILE": folder.appendingPathComponent("secret").path,
            "JOBCAST_WECHAT_THUMB_MEDIA_ID": "thumb-1",
            "JOBCAST_HTTP_TIMEOUT": "2.5s",
        ])
        #expect(settings.platformToken == "platform-secret-token")
        #expect(settings.wechatSecret == "wechat-app-secret")
        #expect(settings.wechatAPIBase == "http://127.0.0.1:8080")
        #expect(settings.httpTimeout == .milliseconds(2500))
        let printed = settings.description
        #expect(!printed.contains("platform-secret-token") && !printed.contains("wechat-app-secret"))
        #expect(settings.lines.contains("JOBCAST_PLATFORM_TOKEN=(set)"))
        #expect(settings.lines.contains("JOBCAST_WECHAT_SECRET=(set)"))
        #expect(settings.lines.contains("JOBCAST_WECHAT_APPID=wx1234"))
        #expect(settings.lines.contains("JOBCAST_HTTP_TIMEOUT=2.5"))
    }

    @Test(arguments: [
        ["JOBCAST_HTTP_TIMEOUT": "0"], ["JOBCAST_HTTP_TIMEOUT": "soon"], ["JOBCAST_PLATFORM_URL": "jobs.example.gov.cn", "JOBCAST_PLATFORM_TOKEN": "t"],
        ["JOBCAST_PLATFORM_URL": "https://jobs.example.gov.cn"], ["JOBCAST_WECHAT_APPID": "wx1234"],
    ])
    func badSettingsAreErrorsThatNameTheVariable(environment: [String: String]) {
        #expect(throws: SettingsError.self) { try Settings(environment: environment) }
    }
}
