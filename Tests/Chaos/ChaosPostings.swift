import Foundation
import JobCastCore
import JobCastTestSupport

/// What a chaos run sends: valid postings made from the sample job fair (seeded, each with its id and
/// version in its title, `… chaos-000123·v2`, so that a platform job and a WeChat article show which
/// version they carry), a share of them corrected, withdrawn, withdrawn and reopened, or scheduled, and
/// invalid messages that a producer could put straight onto the exchange, each with the reason a worker
/// must give for dead-lettering it. `expected` says what each posting must look like at the end.
struct ChaosPostings {
    static let idPrefix = "chaos-"

    /// What happens to one posting during the run.
    enum Kind: String, CaseIterable, Sendable {
        /// Published once.
        case plain
        /// A correction (v2) in a later file, versions by `jobcast publish`'s stamps.
        case corrected
        /// A correction (v2) published *before* the original, the order given by `updatedAt` alone.
        case correctedEarly = "corrected out of order"
        /// A withdrawal in a later file.
        case withdrawn
        /// A withdrawal in a later file and a newer publish (v2) after it: live again.
        case reopened
        /// `publishAt` about two minutes after the run starts: not delivered before it.
        case scheduled
    }

    /// The end state a posting must have: withdrawn (on no platform), or live with `version`.
    struct Expectation: Sendable {
        var kind: Kind
        var withdrawn: Bool
        var version: Int
        var publishAt: Date?
    }

    /// The first version of every posting.
    let valid: [JSONValue]
    /// Every message in publishing order, one array per `jobcast publish` file.
    let chunks: [[JSONValue]]
    let expected: [String: Expectation]
    /// Raw bodies with their message id; each must end in both channels' dead queues.
    let invalid: [(id: String, body: Data, reason: String)]

    var validIDs: [String] { valid.compactMap { $0["id"]?.stringValue } }
    var messageCount: Int { chunks.reduce(0) { $0 + $1.count } }
    func count(_ kind: Kind) -> Int { expected.values.filter { $0.kind == kind }.count }

    static func title(_ base: String, id: String, version: Int) -> String { "\(base) \(id)" + (version > 1 ? "·v\(version)" : "") }

    /// `count` postings in `chunkCount` files (at least 3: originals go in all but the last two, so that every
    /// correction, withdrawal and reopening has a later file); scheduled ones `scheduleAhead` seconds after `now`.
    init(count: Int, seed: UInt64, chunks chunkCount: Int, now: Date = Date(), scheduleAhead: TimeInterval = 120) throws {
        var random = SplitMix64(seed: seed)
        let samples = try SampleData.jsonValues()
        let chunkCount = max(3, chunkCount)
        let originalChunks = chunkCount - 2
        var chunks = [[JSONValue]](repeating: [], count: chunkCount)
        var valid: [JSONValue] = []
        var expected: [String: Expectation] = [:]
        let perChunk = max(1, (count + originalChunks - 1) / originalChunks)
        let stamp = ISO8601DateFormatter()
        stamp.timeZone = TimeZone(identifier: "Asia/Shanghai")
        for index in 0..<count {
            guard case .object(var object) = samples[Int.random(in: 0..<samples.count, using: &random)] else { continue }
            let digits = String(index)
            let id = Self.idPrefix + String(repeating: "0", count: max(0, 6 - digits.count)) + digits
            let base = object["title"]?.stringValue ?? "岗位"
            object["id"] = .string(id)
            object["title"] = .string(Self.title(base, id: id, version: 1))
            object["headcount"] = .number(Double(Int.random(in: 1...50, using: &random)))
            object["validUntil"] = .string("2027-12-31")
            var second = object
            second["title"] = .string(Self.title(base, id: id, version: 2))
            second["headcount"] = .number(Double(Int.random(in: 51...60, using: &random)))
            let withdrawal = JSONValue.object(["id": .string(id), "action": .string("withdraw")])

            let chunk = min(index / perChunk, originalChunks - 1)
            let later = { (from: Int) in Int.random(in: from...(chunkCount - 1), using: &random) }
            var kind: Kind
            switch Int.random(in: 0..<100, using: &random) {
            case 0..<6: kind = .corrected
            case 6..<11: kind = chunk > 0 ? .correctedEarly : .corrected
            case 11..<17: kind = .withdrawn
            case 17..<20: kind = .reopened
            case 20..<24: kind = chunk <= 1 ? .scheduled : .plain
            default: kind = .plain
            }
            var expectation = Expectation(kind: kind, withdrawn: false, version: 1)
            switch kind {
            case .plain:
                chunks[chunk].append(.object(object))
            case .corrected:
                chunks[chunk].append(.object(object))
                chunks[later(chunk + 1)].append(.object(second))
                expectation.version = 2
            case .correctedEarly:
                object["updatedAt"] = .string("2026-01-01T09:00:00+08:00")
                second["updatedAt"] = .string("2026-01-02T09:00:00.5+08:00")
                chunks[chunk - 1].append(.object(second))
                chunks[chunk].append(.object(object))
                expectation.version = 2
            case .withdrawn:
                chunks[chunk].append(.object(object))
                chunks[later(chunk + 1)].append(withdrawal)
                expectation.withdrawn = true
            case .reopened:
                chunks[chunk].append(.object(object))
                chunks[chunk + 1].append(withdrawal)
                chunks[chunk + 2].append(.object(second))
                expectation.version = 2
            case .scheduled:
                let publishAt = now.addingTimeInterval(scheduleAhead + Double(Int.random(in: 0...20, using: &random)))
                object["publishAt"] = .string(stamp.string(from: publishAt))
                // The stamp has whole seconds: the posting is due at that second, not before.
                expectation.publishAt = stamp.date(from: stamp.string(from: publishAt))
                chunks[chunk].append(.object(object))
            }
            valid.append(.object(object))
            expected[id] = expectation
        }
        self.valid = valid
        self.chunks = chunks
        self.expected = expected

        guard case .object(let base) = samples[0] else { throw ChaosFailure("the samples are not objects") }
        func variant(_ id: String, _ change: (inout [String: JSONValue]) -> Void) -> Data {
            var object = base
            object["id"] = .string(id)
            change(&object)
            return (try? JSONEncoder().encode(JSONValue.object(object))) ?? Data()
        }
        invalid = [
            ("bad-not-json", Data("this is not JSON".utf8), "not_json"),
            ("bad-truncated", Data(#"{"id":"bad-truncated","title":"厨师"#.utf8), "not_json"),
            ("bad-array", Data("[1,2,3]".utf8), "invalid"),
            ("bad-headcount-zero", variant("bad-headcount-zero") { $0["headcount"] = .number(0) }, "invalid"),
            ("bad-headcount-negative", variant("bad-headcount-negative") { $0["headcount"] = .number(-3) }, "invalid"),
            ("bad-headcount-type", variant("bad-headcount-type") { $0["headcount"] = .string("many") }, "invalid"),
            ("bad-salary-order", variant("bad-salary-order") { $0["salary"] = .object(["min": .number(9000), "max": .number(3000)]) }, "invalid"),
            ("bad-no-title", variant("bad-no-title") { $0["title"] = nil }, "invalid"),
            ("bad-no-phone", variant("bad-no-phone") { $0["contact"] = .object(["name": .string("王经理")]) }, "invalid"),
            ("bad-utf8", Data([0x7B, 0x22, 0x69, 0x64, 0x22, 0x3A, 0x22, 0xFF, 0xFE, 0x22, 0x7D]), "not_json"),
            ("bad-action", variant("bad-action") { $0["action"] = .string("explode") }, "invalid"),
            ("bad-too-large", Data(repeating: UInt8(ascii: " "), count: 2 * 1024 * 1024), "too_large"),
        ]
    }

    /// The messages as JSON Lines, one file per chunk under `directory`.
    func writeChunks(to directory: URL) throws -> [URL] {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        return try chunks.enumerated().filter { !$0.element.isEmpty }.map { number, messages in
            let lines = try messages.map { String(decoding: try encoder.encode($0), as: UTF8.self) }
            let url = directory.appendingPathComponent(String(format: "postings-%03d.jsonl", number))
            try (lines.joined(separator: "\n") + "\n").write(to: url, atomically: true, encoding: .utf8)
            return url
        }
    }

    /// The chaos postings a text names (a WeChat article's HTML, a platform job's title), each with the version
    /// its title carries (`chaos-000123` is version 1, `chaos-000123·v2` version 2).
    static func versions(in text: String) -> [(id: String, version: Int)] {
        var found: [(String, Int)] = []
        var rest = text[...]
        while let range = rest.range(of: idPrefix) {
            let digits = rest[range.upperBound...].prefix { $0.isNumber }
            rest = rest[range.upperBound...]
            guard digits.count == 6 else { continue }
            var version = 1
            let after = rest.dropFirst(digits.count)
            if after.hasPrefix("·v"), let number = Int(after.dropFirst(2).prefix { $0.isNumber }) { version = number }
            found.append((idPrefix + digits, version))
        }
        return found
    }
}

struct ChaosFailure: Error, CustomStringConvertible {
    var description: String
    init(_ description: String) { self.description = description }
}
