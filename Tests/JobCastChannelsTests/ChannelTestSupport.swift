import Foundation
import JobCastChannels
import JobCastCore
import JobCastTestSupport
import Testing

/// Golden files live in Tests/JobCastChannelsTests/Golden/. To regenerate them after an intended
/// change to a template or renderer, run:
///
///     JOBCAST_UPDATE_GOLDEN=1 swift test --filter JobCastChannelsTests
///
/// then review the diff (and open Golden/wechat/*.html in a browser at phone width) before committing.
enum Golden {
    static let folder = "Tests/JobCastChannelsTests/Golden"
    static var updating: Bool { ProcessInfo.processInfo.environment["JOBCAST_UPDATE_GOLDEN"] == "1" }

    /// Compares `actual` with the golden file, or rewrites the file when updating.
    static func check(_ actual: String, against relative: String, sourceLocation: SourceLocation = #_sourceLocation) throws {
        let url = RepositoryPaths.url("\(folder)/\(relative)")
        if updating {
            try FileManager.default.createDirectory(at: url.deletingLastPathComponent(), withIntermediateDirectories: true)
            try actual.write(to: url, atomically: true, encoding: .utf8)
            return
        }
        guard let expected = try? String(contentsOf: url, encoding: .utf8) else {
            Issue.record("missing golden file \(relative): run with JOBCAST_UPDATE_GOLDEN=1", sourceLocation: sourceLocation)
            return
        }
        #expect(actual == expected, "\(relative) differs from its golden file; if intended, regenerate with JOBCAST_UPDATE_GOLDEN=1",
                sourceLocation: sourceLocation)
    }
}

enum Fixtures {
    static func templates() throws -> ChannelTemplates { try ChannelTemplates() }

    static func prettyJSON<T: Encodable>(_ value: T) throws -> String {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .prettyPrinted, .withoutEscapingSlashes]
        return String(decoding: try encoder.encode(value), as: UTF8.self) + "\n"
    }

    /// Tag names used in HTML, e.g. ["section", "p", "strong"].
    static func tagNames(in html: String) -> Set<String> {
        var names: Set<String> = []
        var rest = Substring(html)
        while let open = rest.firstIndex(of: "<") {
            let after = rest[rest.index(after: open)...].drop { $0 == "/" }
            names.insert(String(after.prefix { $0.isLetter || $0.isNumber }).lowercased())
            rest = after
        }
        return names
    }

    /// A valid posting with every text field set to `text`, cut to the schema's bounds.
    static func posting(id: String, text: String, industry: String = "餐饮", headcount: Int = 10) -> Posting {
        func cut(_ max: Int) -> String {
            var out = ""
            var used = 0
            for scalar in text.unicodeScalars where used < max {
                out.unicodeScalars.append(scalar)
                used += 1
            }
            return out.isEmpty ? "x" : out
        }
        return Posting(
            id: id, employer: .init(name: cut(100)), title: cut(64), industry: industry, headcount: headcount,
            salary: .init(min: 6000, max: 8000), location: .init(city: cut(32), district: cut(32), address: cut(200)),
            contact: .init(name: cut(32), phone: "021-52561288"), validUntil: "2023-04-30", requirements: cut(2000),
            benefits: Array(repeating: cut(100), count: 20), training: cut(2000), targetGroups: [cut(50)],
            sourceCounties: [cut(20)], program: cut(100))
    }
}
