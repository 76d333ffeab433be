import Foundation
import JobCastTestSupport
import Testing

/// scripts/check-compose.sh, which scripts/test.sh runs on the real files, holds them to `jobcast config`: here it
/// passes on the committed files and catches each kind of drift in a copy made wrong on purpose.
@Suite("The compose file's check")
struct ComposeCheckTests {
    /// A copy of what the check reads, in a folder of its own, changed by `edit`; the check's status and output.
    func check(_ edit: (URL) throws -> Void = { _ in }) async throws -> CLIResult {
        let folder = FileManager.default.temporaryDirectory.appendingPathComponent("jobcast-compose-check-\(UUID().uuidString)")
        defer { try? FileManager.default.removeItem(at: folder) }
        try FileManager.default.createDirectory(at: folder.appendingPathComponent("scripts"), withIntermediateDirectories: true)
        for file in ["scripts/check-compose.sh", "docker-compose.yml", ".env.example", "README.md", "Dockerfile"] {
            try FileManager.default.copyItem(at: RepositoryPaths.url(file), to: folder.appendingPathComponent(file))
        }
        try edit(folder)
        return try await runProcess(
            URL(fileURLWithPath: "/bin/bash"), [folder.appendingPathComponent("scripts/check-compose.sh").path],
            environment: ["JOBCAST_BIN": try JobCastBinary.url().path])
    }

    func replace(_ old: String, with new: String, in file: URL) throws {
        let text = try String(contentsOf: file, encoding: .utf8)
        #expect(text.contains(old), "\(file.lastPathComponent) no longer holds \(old)")
        try text.replacingOccurrences(of: old, with: new).write(to: file, atomically: true, encoding: .utf8)
    }

    @Test("the committed docker-compose.yml, .env.example, Dockerfile and README pass")
    func committedFilesPass() async throws {
        let result = try await check()
        #expect(result.status == 0, "\(result.stdout)\(result.stderr)")
        #expect(result.stdout.contains("match the"))
    }

    @Test("unknown, plain-text secret, missing required and mistimed settings are each reported")
    func driftIsCaught() async throws {
        let result = try await check { folder in
            let compose = folder.appendingPathComponent("docker-compose.yml")
            try replace(
                "      JOBCAST_PLATFORM_TOKEN_FILE: /run/secrets/platform_token\n",
                with: "      JOBCAST_PLATFORM_TIMEOUT: \"5\"\n", in: compose)
            try replace("      JOBCAST_WECHAT_SECRET_FILE: /run/secrets/wechat_secret\n", with: "      JOBCAST_WECHAT_SECRET: hunter2\n", in: compose)
            try replace("  JOBCAST_HTTP_TOKEN_FILE: /run/secrets/http_token\n", with: "  JOBCAST_HTTP_TOKEN_FILE: /run/secrets/nothing\n", in: compose)
            try replace("stop_grace_period: 30s", with: "stop_grace_period: 20s", in: compose)
            let environment = folder.appendingPathComponent(".env.example")
            try (String(contentsOf: environment, encoding: .utf8) + "JOBCAST_DIGEST_MAX=3\n").write(to: environment, atomically: true, encoding: .utf8)
            let readme = folder.appendingPathComponent("README.md")
            let text = try String(contentsOf: readme, encoding: .utf8)
            try text.split(separator: "\n", omittingEmptySubsequences: false).filter { !$0.hasPrefix("| `JOBCAST_MAX_MESSAGE_BYTES`") }
                .joined(separator: "\n").write(to: readme, atomically: true, encoding: .utf8)
            try replace("STOPSIGNAL SIGTERM", with: "STOPSIGNAL SIGQUIT", in: folder.appendingPathComponent("Dockerfile"))
        }
        #expect(result.status == 1)
        for expected in [
            "platform-worker: sets JOBCAST_PLATFORM_TIMEOUT, which jobcast does not read",
            "platform-worker: plays platform-worker but does not set JOBCAST_PLATFORM_TOKEN",
            "wechat-worker: JOBCAST_WECHAT_SECRET is a secret: give it as JOBCAST_WECHAT_SECRET_FILE",
            "wechat-worker: JOBCAST_HTTP_TOKEN_FILE=/run/secrets/nothing is not a secret the service mounts",
            "platform-worker: stop_grace_period 20s is not longer than JOBCAST_SHUTDOWN_TIMEOUT 20s",
            ".env.example:", "JOBCAST_DIGEST_MAX is not a variable jobcast reads",
            "README.md: the configuration table does not list JOBCAST_MAX_MESSAGE_BYTES",
            "Dockerfile: no STOPSIGNAL SIGTERM",
        ] {
            #expect(result.stdout.contains(expected), "not reported: \(expected)\n\(result.stdout)")
        }
    }

    @Test("a compose file docker-compose cannot read fails the check")
    func invalidComposeFails() async throws {
        let result = try await check { folder in
            try replace("    deploy:\n      replicas: 3\n", with: "    deploy:\n      replicas: three\n", in: folder.appendingPathComponent("docker-compose.yml"))
        }
        #expect(result.status != 0)
        #expect(!result.stdout.contains("match the"))
    }
}
