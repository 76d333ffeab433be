import Foundation
import JobCastChannels
import JobCastCore

/// The fuzz targets: what each one feeds the bytes to and which property it holds, trapping (so that libFuzzer
/// keeps the input as a crash) when the property fails. One binary serves them all; `FUZZ_TARGET` picks one.
/// scripts/fuzz.sh builds it with libFuzzer and runs each target; without libFuzzer (a plain `swift build`) the same
/// binary replays files through a target (Replay.swift).
enum FuzzTarget: String, CaseIterable {
    /// The JSON parser against Foundation's JSONSerialization: the same verdict, the same values.
    case json
    /// The canonical writer: parse → write → parse is the identity; the hash ignores key order and whitespace.
    case canonical
    /// The CSV reader: never a crash, every record an object, no U+FFFD that the input did not hold.
    case csv
    /// The validator: never a crash; valid exactly when the message decodes (its verdicts against Python's
    /// jsonschema are compared by scripts/fuzz.sh over the corpus the fuzzer grew).
    case validator
    /// Both renderers: WeChat HTML holds only the allowed tags and attributes; the platform body is the schema's shape.
    case render

    /// `FUZZ_TARGET`, by default `json`.
    static let selected: FuzzTarget = {
        let name = ProcessInfo.processInfo.environment["FUZZ_TARGET"] ?? "json"
        guard let target = FuzzTarget(rawValue: name) else {
            FileHandle.standardError.write(Data("FUZZ_TARGET=\(name): one of \(allCases.map(\.rawValue).joined(separator: ", "))\n".utf8))
            exit(64)
        }
        return target
    }()

    func run(_ data: Data) {
        switch self {
        case .json: Self.json(data)
        case .canonical: Self.canonical(data)
        case .csv: Self.csv(data)
        case .validator: Self.validator(data)
        case .render: Self.render(data)
        }
    }

    static func fail(_ what: String, _ data: Data) -> Never {
        let shown = String(decoding: data.prefix(300), as: UTF8.self).debugDescription
        fatalError("\(selected.rawValue): \(what); input (\(data.count) bytes): \(shown)")
    }

    // MARK: json

    /// Foundation's value as a JSONValue; nil for what JSONValue has no case for.
    static func jsonValue(_ any: Any) -> JSONValue? {
        switch any {
        case is NSNull: return .null
        case let string as String: return .string(string)
        case let number as NSNumber:
            if String(cString: number.objCType) == "c" { return .bool(number.boolValue) }
            return .number(number.doubleValue)
        case let array as [Any]:
            var out: [JSONValue] = []
            for item in array {
                guard let value = jsonValue(item) else { return nil }
                out.append(value)
            }
            return .array(out)
        case let object as [String: Any]:
            var out: [String: JSONValue] = [:]
            for (key, item) in object {
                guard let value = jsonValue(item) else { return nil }
                out[key] = value
            }
            return .object(out)
        default: return nil
        }
    }

    static func isUTF8WithoutNUL(_ data: Data) -> Bool {
        !data.contains(0) && String(validating: data, as: UTF8.self) != nil
    }

    static func json(_ data: Data) {
        let ours: JSONValue?
        do {
            ours = try JSONValue(data: data)
        } catch is JSONValue.DuplicateKey {
            return  // refused on purpose; JSONSerialization keeps the last value
        } catch {
            ours = nil
        }
        if ours != nil, !isUTF8WithoutNUL(data) { fail("accepted text that is not UTF-8", data) }
        // Foundation also reads UTF-16 and UTF-32; JobCast refuses them on purpose (the contract is UTF-8).
        guard isUTF8WithoutNUL(data) else { return }
        let foundation = (try? JSONSerialization.jsonObject(with: data, options: [.fragmentsAllowed])).map { jsonValue($0) }
        switch (ours, foundation) {
        case (nil, nil): return
        case (let ours?, nil): fail("JobCast accepts what JSONSerialization refuses: \(ours)", data)
        case (nil, .some(let theirs)): fail("JobCast refuses what JSONSerialization accepts: \(String(describing: theirs))", data)
        case (let ours?, .some(let theirs)):
            guard let theirs else { fail("JSONSerialization gave a value JobCast has no case for", data) }
            if !same(ours, theirs) { fail("different values: JobCast \(ours), JSONSerialization \(theirs)", data) }
        }
    }

    /// Equal values; numbers equal as doubles, or within 1e-14 of each other: JSONSerialization on Linux reads integers
    /// of more than about 20 digits a few units in the last place off (119 and 122 digits, found by this target), where
    /// JobCast, strtod and Python agree to the bit.
    static func same(_ a: JSONValue, _ b: JSONValue) -> Bool {
        switch (a, b) {
        case (.number(let x), .number(let y)): return x == y || abs(x - y) <= 1e-14 * max(abs(x), abs(y))
        case (.array(let x), .array(let y)): return x.count == y.count && zip(x, y).allSatisfy { same($0, $1) }
        case (.object(let x), .object(let y)):
            return x.count == y.count && x.allSatisfy { key, value in y[key].map { same(value, $0) } ?? false }
        default: return a == b
        }
    }

    // MARK: canonical

    static func canonical(_ data: Data) {
        guard let value = try? JSONValue(data: data) else { return }
        let written = value.canonicalData
        guard let again = try? JSONValue(data: written) else { fail("the canonical form does not parse: \(String(decoding: written, as: UTF8.self))", data) }
        if again != value { fail("parse → write → parse changed the value: \(value) → \(again)", data) }
        if again.canonicalData != written { fail("writing twice gave two forms", data) }
        // The same value written by someone else (other key order, indentation) has the same hash.
        if let any = foundationObject(value),
            let pretty = try? JSONSerialization.data(withJSONObject: any, options: [.prettyPrinted, .fragmentsAllowed]),
            let reread = try? JSONValue(data: pretty), same(reread, value)
        {
            if ContentHash.of(reread) != ContentHash.of(value) { fail("the hash changed with layout and key order", data) }
        }
    }

    static func foundationObject(_ value: JSONValue) -> Any? {
        switch value {
        case .null: return NSNull()
        case .bool(let b): return b
        case .number(let n): return n
        case .string(let s): return s
        case .array(let items): return items.map { foundationObject($0) ?? NSNull() }
        case .object(let members):
            // Reversed insertion: a key order other than the canonical one.
            var out: [String: Any] = [:]
            for (key, item) in members.sorted(by: { $0.key > $1.key }) { out[key] = foundationObject(item) ?? NSNull() }
            return out
        }
    }

    // MARK: csv

    static func csv(_ data: Data) {
        let result = PostingFileReader().read(data, source: "fuzz.csv", format: .csv)
        let lines = data.reduce(1) { $0 + ($1 == 0x0A ? 1 : 0) } + data.reduce(0) { $0 + ($1 == 0x0D ? 1 : 0) }
        let heldReplacement = data.range(of: Data([0xEF, 0xBF, 0xBD])) != nil
        for record in result.records {
            guard case .object = record.value else { fail("a record that is not an object: \(record.value)", data) }
            if record.line < 1 || record.line > lines { fail("record line \(record.line) outside 1...\(lines)", data) }
            if !heldReplacement, "\(record.value)".contains("\u{FFFD}") { fail("U+FFFD in a record of input that held none", data) }
            if (try? JSONValue(data: record.value.canonicalData)) != record.value { fail("a record does not survive the canonical form", data) }
        }
        for problem in result.problems where problem.line < 1 || problem.line > lines {
            fail("problem line \(problem.line) outside 1...\(lines): \(problem)", data)
        }
    }

    // MARK: validator

    static func validator(_ data: Data) {
        guard let value = try? JSONValue(data: data) else { return }
        let issues = PostingValidator().validate(value)
        let decoded: Bool
        do {
            _ = try PostingMessage.decode(value)
            decoded = true
        } catch {
            decoded = false
        }
        if issues.isEmpty != decoded { fail("the validator says \(issues.isEmpty ? "valid" : "invalid") but decoding \(decoded ? "succeeds" : "fails")", data) }
    }

    // MARK: render

    static let templates: ChannelTemplates = {
        do { return try ChannelTemplates() } catch { fatalError("the built-in templates: \(error)") }
    }()

    static func render(_ data: Data) {
        guard case .publish(let posting)? = try? PostingMessage.decode(data) else { return }
        let body: Data
        do { body = try PlatformRenderer(templates: templates).body(for: posting) } catch { fail("the platform body failed: \(error)", data) }
        if let problem = platformProblem(body) { fail("the platform body: \(problem)", data) }
        let digest: WeChatDigest
        do { digest = try WeChatRenderer(templates: templates).render([posting]) } catch { fail("WeChat rendering failed: \(error)", data) }
        for article in digest.draft.articles {
            if let problem = htmlProblem(article.content) { fail("WeChat HTML: \(problem)", data) }
            if article.title.utf16.count > WeChatRenderer.Limits.title { fail("a title over \(WeChatRenderer.Limits.title)", data) }
            if article.digest.utf16.count > WeChatRenderer.Limits.digest { fail("a digest over \(WeChatRenderer.Limits.digest)", data) }
        }
    }

    /// The first tag or attribute outside WeChatRenderer.allowedTags and `style`, or a `<` that opens no tag.
    static func htmlProblem(_ html: String) -> String? {
        var rest = Substring(html)
        while let open = rest.firstIndex(of: "<") {
            guard let close = rest[open...].firstIndex(of: ">") else { return "a '<' that is never closed" }
            var inside = rest[rest.index(after: open)..<close]
            if inside.hasPrefix("/") { inside = inside.dropFirst() }
            let name = inside.prefix { $0.isLetter || $0.isNumber }
            if !WeChatRenderer.allowedTags.contains(name.lowercased()) { return "tag <\(inside.prefix(40))>" }
            // Attributes: name="value" pairs; only style.
            var attributes = inside.dropFirst(name.count)
            while let equals = attributes.firstIndex(of: "=") {
                let attribute = attributes[..<equals].trimmingCharacters(in: .whitespaces)
                if attribute != "style" { return "attribute \(attribute) in <\(name)>" }
                let afterEquals = attributes[attributes.index(after: equals)...]
                guard afterEquals.first == "\"", let end = afterEquals.dropFirst().firstIndex(of: "\"") else { return "an unquoted attribute in <\(name)>" }
                attributes = afterEquals[afterEquals.index(after: end)...]
            }
            if !attributes.trimmingCharacters(in: .whitespaces).isEmpty, attributes.trimmingCharacters(in: .whitespaces) != "/" {
                return "stray text in <\(name)>: \(attributes.prefix(40))"
            }
            rest = rest[rest.index(after: close)...]
        }
        return nil
    }

    /// Schemas/platform-job.schema.json's shape, read from the schema file itself: every `required` property
    /// present, every string within `minLength`/`maxLength`, every `type` as declared. (The full verdict of
    /// Python's jsonschema on the bodies is scripts/fuzz.sh's replay.)
    static let platformSchema: JSONValue? = {
        let url = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
            .appendingPathComponent("Schemas/platform-job.schema.json")
        return (try? Data(contentsOf: url)).flatMap { try? JSONValue(data: $0) }
    }()

    static func platformProblem(_ body: Data) -> String? {
        guard let value = try? JSONValue(data: body) else { return "not JSON" }
        guard let schema = platformSchema else { return nil }
        return shapeProblem(value, schema, at: "")
    }

    static func shapeProblem(_ value: JSONValue, _ schema: JSONValue, at pointer: String) -> String? {
        if let type = schema["type"]?.stringValue {
            let actual = value.typeName
            let fits = type == actual || (type == "number" && actual == "integer")
            if !fits { return "\(pointer): \(actual), the schema says \(type)" }
        }
        if case .string(let text) = value {
            let count = text.unicodeScalars.count
            if let minimum = schema["minLength"]?.integerValue, count < minimum { return "\(pointer): shorter than \(minimum)" }
            if let maximum = schema["maxLength"]?.integerValue, count > maximum { return "\(pointer): longer than \(maximum)" }
        }
        if case .object(let members) = value {
            for name in schema["required"]?.arrayValue?.compactMap(\.stringValue) ?? [] where members[name] == nil {
                return "\(pointer)/\(name): missing"
            }
            for (name, member) in members {
                if let sub = schema["properties"]?[name], let problem = shapeProblem(member, sub, at: "\(pointer)/\(name)") { return problem }
            }
        }
        if case .array(let items) = value, let sub = schema["items"] {
            for (index, item) in items.enumerated() {
                if let problem = shapeProblem(item, sub, at: "\(pointer)/\(index)") { return problem }
            }
        }
        return nil
    }
}
