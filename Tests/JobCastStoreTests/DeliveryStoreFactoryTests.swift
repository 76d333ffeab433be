import Foundation
import Testing

@testable import JobCastStore

@Suite("Database URL")
struct DeliveryStoreFactoryTests {
    typealias Location = DeliveryStoreFactory.Location

    @Test("URL forms")
    func forms() throws {
        #expect(try Location(url: nil, workingDirectory: "/srv/jc") == .sqlite(path: "/srv/jc/var/jobcast.sqlite"))
        #expect(try Location(url: "", workingDirectory: "/srv/jc") == .sqlite(path: "/srv/jc/var/jobcast.sqlite"))
        #expect(try Location(url: "sqlite:///data/jc.sqlite", workingDirectory: "/srv/jc") == .sqlite(path: "/data/jc.sqlite"))
        #expect(try Location(url: "sqlite://db/jc.sqlite", workingDirectory: "/srv/jc") == .sqlite(path: "/srv/jc/db/jc.sqlite"))
        #expect(try Location(url: "sqlite:jc.sqlite", workingDirectory: "/srv/jc") == .sqlite(path: "/srv/jc/jc.sqlite"))
        #expect(try Location(url: "postgres://u:p@db:5432/jobcast", workingDirectory: "/") == .postgres(url: "postgres://u:p@db:5432/jobcast"))
        #expect(try Location(url: "postgresql://db/jobcast", workingDirectory: "/") == .postgres(url: "postgresql://db/jobcast"))
    }

    @Test("bad URLs are refused with a hint", arguments: ["mysql://db/x", "sqlite://", "sqlite:///tmp/"])
    func bad(url: String) {
        #expect(throws: DeliveryStoreError.self) { try Location(url: url, workingDirectory: "/") }
    }

    @Test("the default SQLite store is created under var/, with its folder")
    func defaultPathCreatesFolder() async throws {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("jobcast-default-\(UUID().uuidString)")
        defer { try? FileManager.default.removeItem(at: directory) }
        let store = try await DeliveryStoreFactory.from(url: nil, workingDirectory: directory.path, logger: testLogger)
        #expect(store.backendName == "sqlite")
        #expect(FileManager.default.fileExists(atPath: directory.appendingPathComponent("var/jobcast.sqlite").path))
        try await store.close()
    }
}
