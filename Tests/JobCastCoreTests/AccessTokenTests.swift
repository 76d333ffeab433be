import Foundation
import JobCastCore
import Testing

/// `JOBCAST_HTTP_TOKEN`, the named tokens of `JOBCAST_HTTP_TOKENS_FILE`, loopback addresses and `Host` headers.
@Suite("Tokens, roles and loopback")
struct AccessTokenTests {
    static let file = """
        # name      role       token
        ops-lead    admin      a1b2c3d4e5f6a7b8c9d0
        county-viewer read-only  r1r2r3r4r5r6r7r8r9r0

        """

    func temporary(_ text: String) throws -> String {
        let path = FileManager.default.temporaryDirectory.appendingPathComponent("jobcast-tokens-\(UUID().uuidString)").path
        try Data(text.utf8).write(to: URL(fileURLWithPath: path))
        return path
    }

    @Test("the tokens file gives names and roles; each presented token finds its holder")
    func namedTokens() throws {
        let path = try temporary(Self.file)
        defer { try? FileManager.default.removeItem(atPath: path) }
        let settings = try Settings(environment: ["JOBCAST_HTTP_TOKENS_FILE": path, "JOBCAST_HTTP_TOKEN": "legacy-token-0123456789"])
        #expect(settings.httpTokens.map(\.name) == ["ops-lead", "county-viewer"])
        #expect(settings.httpTokens.map(\.role) == [.admin, .readOnly])
        let tokens = AccessTokens(settings: settings)
        #expect(tokens.isRequired)
        #expect(tokens.identify(authorization: "Bearer a1b2c3d4e5f6a7b8c9d0") == AccessIdentity(name: "ops-lead", role: .admin))
        #expect(tokens.identify(authorization: "bearer r1r2r3r4r5r6r7r8r9r0") == AccessIdentity(name: "county-viewer", role: .readOnly))
        #expect(tokens.identify(authorization: "Bearer legacy-token-0123456789") == AccessIdentity(name: "http-token", role: .admin))
        #expect(tokens.identify(authorization: nil, queryToken: "r1r2r3r4r5r6r7r8r9r0")?.role == .readOnly)
        #expect(tokens.identify(authorization: "Bearer a1b2c3d4e5f6a7b8c9d") == nil, "a prefix is not the token")
        #expect(tokens.identify(authorization: "Basic a1b2c3d4e5f6a7b8c9d0") == nil)
        #expect(tokens.identify(authorization: nil) == nil)
        #expect(!settings.description.contains("a1b2c3d4"), "the settings' description never shows a token")
        #expect(settings.description.contains("county-viewer (read-only)"))
    }

    @Test("`Bearer` followed by only spaces, an empty token or an empty query token never match")
    func blankNeverMatches() throws {
        let token = BearerToken("s3cret-token")
        for header in ["Bearer", "Bearer ", "Bearer    ", "Bearer \t", ""] {
            #expect(!token.accepts(authorization: header), "'\(header)'")
        }
        #expect(token.accepts(authorization: "Bearer s3cret-token"))
        #expect(token.accepts(authorization: "Bearer   s3cret-token  "))
        #expect(!token.accepts(token: ""))
        let empty = BearerToken("")
        #expect(!empty.accepts(authorization: "Bearer "))
        #expect(!empty.accepts(authorization: "Bearer     "))
        #expect(!empty.accepts(token: ""))
        let tokens = AccessTokens(legacy: "s3cret-token")
        #expect(tokens.identify(authorization: "Bearer    ", queryToken: "") == nil)
    }

    @Test("an empty token file, an empty tokens file or a bad line is refused at start, naming the variable", arguments: [
        ("JOBCAST_HTTP_TOKEN_FILE", "", "JOBCAST_HTTP_TOKEN_FILE"),
        ("JOBCAST_HTTP_TOKEN_FILE", "\n  \n", "JOBCAST_HTTP_TOKEN_FILE"),
        ("JOBCAST_HTTP_TOKENS_FILE", "", "JOBCAST_HTTP_TOKENS_FILE"),
        ("JOBCAST_HTTP_TOKENS_FILE", "# only a comment\n", "JOBCAST_HTTP_TOKENS_FILE"),
        ("JOBCAST_HTTP_TOKENS_FILE", "ops admin\n", "JOBCAST_HTTP_TOKENS_FILE"),
        ("JOBCAST_HTTP_TOKENS_FILE", "ops owner a1b2c3d4e5f6a7b8c9d0\n", "JOBCAST_HTTP_TOKENS_FILE"),
        ("JOBCAST_HTTP_TOKENS_FILE", "ops admin short\n", "JOBCAST_HTTP_TOKENS_FILE"),
        ("JOBCAST_HTTP_TOKENS_FILE", "ops admin a1b2c3d4e5f6a7b8c9d0\nops read-only r1r2r3r4r5r6r7r8r9r0\n", "JOBCAST_HTTP_TOKENS_FILE"),
        ("JOBCAST_HTTP_TOKENS_FILE", "a admin a1b2c3d4e5f6a7b8c9d0\nb read-only a1b2c3d4e5f6a7b8c9d0\n", "JOBCAST_HTTP_TOKENS_FILE"),
    ])
    func refused(variable: String, content: String, named: String) throws {
        let path = try temporary(content)
        defer { try? FileManager.default.removeItem(atPath: path) }
        do {
            _ = try Settings(environment: [variable: path])
            Issue.record("\(variable) with \(content.debugDescription) was accepted")
        } catch let error as SettingsError {
            #expect(error.variable == named, "\(error)")
        }
    }

    @Test("a token of only spaces is refused at start, naming JOBCAST_HTTP_TOKEN; an empty one means no token, as for every variable")
    func blankToken() throws {
        #expect(throws: SettingsError.self) { try Settings(environment: ["JOBCAST_HTTP_TOKEN": "   "]) }
        do {
            _ = try Settings(environment: ["JOBCAST_HTTP_TOKEN": " \t "])
        } catch let error as SettingsError {
            #expect(error.variable == "JOBCAST_HTTP_TOKEN")
        }
        #expect(try Settings(environment: ["JOBCAST_HTTP_TOKEN": ""]).httpToken == nil)
    }

    @Test("loopback means an address: 127.0.0.0/8, ::1, localhost; not a name that starts with 127.")
    func loopback() {
        for host in ["127.0.0.1", "127.8.9.10", "::1", "[::1]", "localhost", "LOCALHOST", "::ffff:127.0.0.1", "0:0:0:0:0:0:0:1"] {
            #expect(Settings.isLoopback(host), "\(host)")
        }
        for host in ["127.example.com", "127.0.0.1.nip.io", "0.0.0.0", "::", "10.0.0.1", "128.0.0.1", "localhost.evil.com", "", "127.1"] {
            #expect(!Settings.isLoopback(host), "\(host)")
        }
    }

    @Test("a tokenless loopback server accepts only its own Host names, with its port")
    func hostHeader() {
        for host in ["127.0.0.1:9465", "localhost:9465", "[::1]:9465", "LocalHost:9465"] {
            #expect(Loopback.isLoopbackHostHeader(host, port: 9465), "\(host)")
        }
        for host in ["evil.example:9465", "127.0.0.1:80", "127.0.0.1", "localhost", "127.0.0.1.nip.io:9465", "", "[::1]:9466"] {
            #expect(!Loopback.isLoopbackHostHeader(host, port: 9465), "\(host)")
        }
        #expect(!Loopback.isLoopbackHostHeader(nil, port: 9465))
    }

    @Test("listening beyond loopback needs a token: JOBCAST_HTTP_TOKEN or the tokens file")
    func requireToken() throws {
        #expect(throws: SettingsError.self) { try Settings(environment: [:]).requireToken(toListenOn: "127.evil.example", variable: "JOBCAST_DASHBOARD_HOST") }
        try Settings(environment: [:]).requireToken(toListenOn: "127.0.0.2", variable: "JOBCAST_DASHBOARD_HOST")
        let path = try temporary(Self.file)
        defer { try? FileManager.default.removeItem(atPath: path) }
        let named = try Settings(environment: ["JOBCAST_HTTP_TOKENS_FILE": path])
        try named.requireToken(toListenOn: "0.0.0.0", variable: "JOBCAST_DASHBOARD_HOST", namedTokensCount: true)
        // The worker's /metrics checks JOBCAST_HTTP_TOKEN only: named tokens do not open it to the network.
        #expect(throws: SettingsError.self) { try named.requireToken(toListenOn: "0.0.0.0", variable: "JOBCAST_HTTP_HOST") }
    }
}
