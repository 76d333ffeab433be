import Foundation
import JobCastCore
import JobCastTestSupport

/// What a chaos run sends: valid postings made from the sample job fair (seeded, each with its id in its
/// title so that a WeChat article shows which postings it carries), and invalid messages that a producer
/// could put straight onto the exchange, each with the reason a worker must give for dead-lettering it.
struct ChaosPostings {
    static let idPrefix = "chaos-"

    let valid: [JSONValue]
    /// Raw bodies with their message id; each must end in both channels' dead queues.
    let invalid: [(id: String, body: Data, reason: String)]

    var validIDs: [String] { valid.compactMap { $0["id"]?.stringValue } }

    init(count: Int, seed: UInt64) throws {
        var random = SplitMix64(seed: seed)
        let samples = try SampleData.jsonValues()
        var valid: [JSONValue] = []
        for index in 0..<count {
            guard case .object(var object) = samples[Int.random(in: 0..<samples.count, using: &random)] else { continue }
            let digits = String(index)
            let id = Self.idPrefix + String(repeating: "0", count: max(0, 6 - digits.count)) + digits
            object["id"] = .string(id)
            object["title"] = .string("\(object["title"]?.stringValue ?? "岗位") \(id)")
            object["headcount"] = .number(Double(Int.random(in: 1...50, using: &random)))
            object["validUntil"] = .string("2027-12-31")
            valid.append(.object(object))
        }
        self.valid = valid

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

    /// The valid postings as JSON Lines, split into `chunks` files under `directory`.
    func writeChunks(_ chunks: Int, to directory: URL) throws -> [URL] {
        let size = max(1, (valid.count + chunks - 1) / chunks)
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        return try stride(from: 0, to: valid.count, by: size).enumerated().map { number, start in
            let lines = try valid[start..<min(start + size, valid.count)].map { String(decoding: try encoder.encode($0), as: UTF8.self) }
            let url = directory.appendingPathComponent(String(format: "postings-%03d.jsonl", number))
            try (lines.joined(separator: "\n") + "\n").write(to: url, atomically: true, encoding: .utf8)
            return url
        }
    }

    /// The chaos posting ids a WeChat article's HTML names (each posting's title carries its id).
    static func ids(inArticle html: String) -> [String] {
        var ids: [String] = []
        var rest = html[...]
        while let range = rest.range(of: idPrefix) {
            let digits = rest[range.upperBound...].prefix { $0.isNumber }
            if digits.count == 6 { ids.append(idPrefix + digits) }
            rest = rest[range.upperBound...]
        }
        return ids
    }
}

struct ChaosFailure: Error, CustomStringConvertible {
    var description: String
    init(_ description: String) { self.description = description }
}
