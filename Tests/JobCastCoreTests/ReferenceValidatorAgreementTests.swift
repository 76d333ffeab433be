import Foundation
import JobCastCore
import JobCastTestSupport
import Testing

/// The schema files are the single source of truth: the Swift validator must give the same verdict,
/// at the same JSON pointers, as Python's `jsonschema` (draft 2020-12, format checking on, plus the
/// cross-field rules of Schemas/README.md) on every example and on a seeded corpus of mutated postings.
/// Needs python3 with jsonschema; scripts/test.sh installs it. Without it these tests fail, never skip.
@Suite struct ReferenceValidatorAgreementTests {
    static let corpusSize = 1500

    @Test func examplesAgree() throws {
        let valid = RepositoryPaths.url("Schemas/examples/valid")
        let invalid = RepositoryPaths.url("Schemas/examples/invalid")
        let reference = try ReferenceValidator.validate([valid, invalid])
        #expect(reference.count >= 40)
        for folder in ["valid", "invalid"] {
            for name in try RepositoryPaths.files(in: "Schemas/examples/\(folder)", withExtension: "json") {
                let data = try RepositoryPaths.data("Schemas/examples/\(folder)/\(name)")
                let issues = PostingValidator().validate(data: data)
                let python = try #require(reference[name], "\(name) missing from the reference output")
                #expect(python.valid == (folder == "valid"), "\(name): Python says valid=\(python.valid)")
                #expect(issues.isEmpty == python.valid, "\(name): Swift \(issues), Python \(python.pointers)")
                #expect(Set(issues.map(\.pointer.description)) == python.pointers, "\(name)")
            }
        }
    }

    @Test func mutatedCorpusAgrees() throws {
        var generator = PostingMutator(bases: try SampleData.jsonValues() + Self.validExamples(), seed: 20_230_228)
        let corpus = (0..<Self.corpusSize).map { i in (name: String(format: "case-%05d", i), value: generator.next()) }
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys]
        let documents = try corpus.map { (name: $0.name, data: try encoder.encode($0.value)) }
        let reference = try ReferenceValidator.validate(documents: documents)
        #expect(reference.count == corpus.count)

        var disagreements: [String] = []
        var validCount = 0
        for (doc, item) in zip(documents, corpus) {
            let issues = PostingValidator().validate(data: doc.data)
            let swiftPointers = Set(issues.map(\.pointer.description))
            guard let python = reference[doc.name + ".json"] else {
                disagreements.append("\(doc.name): no reference verdict")
                continue
            }
            if issues.isEmpty { validCount += 1 }
            if issues.isEmpty != python.valid || swiftPointers != python.pointers {
                let json = String(decoding: doc.data, as: UTF8.self)
                disagreements.append(
                    "\(item.name): Swift \(issues.map(\.description)) vs Python \(python.pointers.sorted()) for \(json.prefix(400))")
            }
        }
        #expect(disagreements.isEmpty, "\(disagreements.count) disagreements, first: \(disagreements.prefix(5).joined(separator: "\n"))")
        // A corpus that is all valid or all invalid would prove little.
        #expect(validCount >= corpus.count / 10, "only \(validCount) valid cases")
        #expect(corpus.count - validCount >= corpus.count / 2, "only \(corpus.count - validCount) invalid cases")
    }

    static func validExamples() throws -> [JSONValue] {
        try RepositoryPaths.files(in: "Schemas/examples/valid", withExtension: "json")
            .map { try JSONValue(data: RepositoryPaths.data("Schemas/examples/valid/\($0)")) }
    }
}

/// Makes postings that are almost right: each is a valid base with one to three mutations aimed at the
/// schema's edges (bounds ±1, wrong types, calendar dates, code points versus characters, trailing newlines).
struct PostingMutator {
    enum Step: Hashable { case key(String), index(Int) }

    let bases: [JSONValue]
    var rng: SplitMix64

    init(bases: [JSONValue], seed: UInt64) {
        self.bases = bases
        self.rng = SplitMix64(seed: seed)
    }

    static let textFields: [([Step], Int)] = [
        ([.key("employer"), .key("name")], 100), ([.key("title")], 64), ([.key("industry")], 20),
        ([.key("location"), .key("city")], 32), ([.key("location"), .key("district")], 32),
        ([.key("location"), .key("address")], 200), ([.key("contact"), .key("name")], 32),
        ([.key("requirements")], 2000), ([.key("training")], 2000), ([.key("program")], 100),
    ]
    static let listFields: [(String, Int, Int)] = [("benefits", 20, 100), ("targetGroups", 10, 50), ("sourceCounties", 20, 20)]
    static let allPaths: [[Step]] =
        [[.key("id")], [.key("action")], [.key("employer")], [.key("employer"), .key("creditCode")], [.key("headcount")],
         [.key("salary")], [.key("salary"), .key("min")], [.key("salary"), .key("max")], [.key("location")], [.key("contact")],
         [.key("contact"), .key("phone")], [.key("validUntil")]]
        + textFields.map(\.0) + listFields.map { [.key($0.0)] }
    static let wrongTypes: [JSONValue] = [.null, true, false, 0, 7, -3, 2.5, "", "x", "12", [], ["a"], [:], ["a": 1]]
    static let pieces = ["字", "a", "😀", "\u{200F}", "<", "&", "\"", "'", "é", "e\u{301}", "👨‍👩‍👧", "🇨🇳", " ", "\n"]

    mutating func pick<T>(_ items: [T]) -> T { items[Int(rng.next() % UInt64(items.count))] }
    mutating func chance(_ percent: UInt64) -> Bool { rng.next() % 100 < percent }

    /// A string of exactly `count` Unicode code points, mixing CJK, emoji, marks and markup.
    mutating func text(scalars count: Int) -> String {
        var s = ""
        var used = 0
        while used < count {
            let piece = pick(Self.pieces)
            let n = piece.unicodeScalars.count
            if used + n > count { s += "a"; used += 1 } else { s += piece; used += n }
        }
        return s
    }

    mutating func next() -> JSONValue {
        var value = pick(bases)
        let steps = 1 + Int(rng.next() % 3)
        for _ in 0..<steps { value = mutate(value) }
        return value
    }

    mutating func mutate(_ value: JSONValue) -> JSONValue {
        switch rng.next() % 12 {
        case 0:
            return value.removing(pick(Self.allPaths))
        case 1:
            return value.setting(pick(Self.allPaths), to: pick(Self.wrongTypes))
        case 2:
            let (path, max) = pick(Self.textFields)
            let length = pick([0, 1, max - 1, max, max + 1, max + 2])
            return value.setting(path, to: .string(text(scalars: length)))
        case 3:
            let ids = ["a", "A-1", "-a", "_a", "a/b", "a b", "a\n", "..", "漢字", "a.b:c_d-e", String(repeating: "p", count: 64),
                       String(repeating: "p", count: 65), "x\r", "0", ""]
            return value.setting([.key("id")], to: .string(pick(ids)))
        case 4:
            let n: [JSONValue] = [0, 1, 100_000, 100_001, -1, 1.5, "3", 1e6, 49_228]
            return value.setting([.key("headcount")], to: pick(n))
        case 5:
            let n: [JSONValue] = [0, -1, 1_000_000, 1_000_001, 4_000, 6_000, 9_000, 5_000.5]
            return value.setting([.key("salary"), pick([.key("min"), .key("max")])], to: pick(n))
        case 6:
            let phones = ["12345", "1234", "+86 21 5256 1288", "(021)52561288", "021-5256-1288", "021-52561288转8", "phone",
                          "a1234", " 12345", String(repeating: "1", count: 24), String(repeating: "1", count: 25), "12345\n", "１２３４５",
                          "+86 138-0000-0000 转 8001", "021-52561288 ext. 12", "021-52561288 EXT12", "021-52561288x3", "021-52561288 分机 12",
                          "400-820-8820", "800-820-8820", "021-52561288 转", "021-52561288 转 1234567", "021-52561288 转  12",
                          "021-52561288 ext. 12\n", "021 转 8 转 9", "021-52561288 ext.12a"]
            return value.setting([.key("contact"), .key("phone")], to: .string(pick(phones)))
        case 7:
            let dates = ["2023-04-30", "2023-02-29", "2024-02-29", "1900-02-29", "2000-02-29", "2023-13-01", "2023-00-10",
                         "2023-04-31", "2023-4-30", "20230430", "2023-04-30\n", "２０２３-04-30", "0000-01-01", "9999-12-31",
                         "2023-04-30T00:00:00", "2023/04/30"]
            return value.setting([.key("validUntil")], to: .string(pick(dates)))
        case 8:
            let (name, maxItems, maxLength) = pick(Self.listFields)
            let lists: [JSONValue] = [
                [], [""], .array(Array(repeating: "福利", count: maxItems)), .array(Array(repeating: "福利", count: maxItems + 1)),
                [.string(text(scalars: maxLength))], [.string(text(scalars: maxLength + 1))], [1], ["ok", .null], "包吃包住",
            ]
            return value.setting([.key(name)], to: pick(lists))
        case 9:
            let codes = ["91310107MA1G00001X", "91310107MA1G0001X", "91310107MA1G000001X", "91310107ma1g00001x",
                         "91310107MA1GO0001X", "91310107MA1GI0001X", "91310107MA1G00001Z"]
            return value.setting([.key("employer"), .key("creditCode")], to: .string(pick(codes)))
        case 10:
            let actions: [JSONValue] = ["publish", "withdraw", "withdraw", "delete", "", "WITHDRAW", .null]
            return value.setting([.key("action")], to: pick(actions))
        default:
            if chance(15) { return pick([.array([value]), "posting", 42, .null]) }
            if chance(30) {
                guard case .object(let o) = value, let lo = o["salary"]?["min"], let hi = o["salary"]?["max"] else { return value }
                return value.setting([.key("salary")], to: ["min": hi, "max": lo])
            }
            return value.setting([.key("x-extra-\(rng.next() % 3)")], to: pick(Self.wrongTypes))
        }
    }
}

extension JSONValue {
    /// This value with `path` set; missing objects on the way are created, non-objects left alone.
    func setting(_ path: [PostingMutator.Step], to newValue: JSONValue) -> JSONValue {
        guard let first = path.first else { return newValue }
        switch (self, first) {
        case (.object(var o), .key(let k)):
            o[k] = (o[k] ?? .object([:])).setting(Array(path.dropFirst()), to: newValue)
            return .object(o)
        case (.array(var a), .index(let i)) where a.indices.contains(i):
            a[i] = a[i].setting(Array(path.dropFirst()), to: newValue)
            return .array(a)
        default:
            return self
        }
    }

    func removing(_ path: [PostingMutator.Step]) -> JSONValue {
        guard let first = path.first, case .object(var o) = self, case .key(let k) = first else { return self }
        if path.count == 1 {
            o[k] = nil
        } else if let child = o[k] {
            o[k] = child.removing(Array(path.dropFirst()))
        }
        return .object(o)
    }
}
