import Foundation

/// Checks a message body against the posting contract and reports every violation at once.
///
/// The rules mirror `Schemas/job-posting.schema.json` (the single source of truth) plus the cross-field
/// rules listed in `Schemas/README.md`. `ReferenceValidatorAgreementTests` proves that this validator
/// and Python's `jsonschema` agree on every example and on a generated corpus of mutated postings:
/// change the schema and this file together.
public struct PostingValidator: Sendable {
    /// Bounds from the schema, by field.
    public enum Limits {
        public static let idLength = 1...64
        public static let employerName = 100
        public static let creditCodeLength = 18
        public static let title = 64
        public static let industry = 20
        public static let headcount = 1...100_000
        public static let salary = 0...1_000_000
        public static let city = 32
        public static let district = 32
        public static let address = 200
        public static let contactName = 32
        public static let phoneLength = 5...24
        public static let requirements = 2000
        public static let training = 2000
        public static let program = 100
        public static let benefits = (items: 20, length: 100)
        public static let targetGroups = (items: 10, length: 50)
        public static let sourceCounties = (items: 20, length: 20)
    }

    static let requiredPostingFields = [
        "id", "employer", "title", "industry", "headcount", "salary", "location", "contact", "validUntil",
    ]

    public init() {}

    /// Validates UTF-8 JSON text.
    public func validate(data: Data) -> [ValidationIssue] {
        guard let value = try? JSONValue(data: data) else {
            return [ValidationIssue(pointer: .root, rule: .json, message: "not UTF-8 JSON")]
        }
        return validate(value)
    }

    /// Validates a parsed body. An empty result means valid.
    public func validate(_ value: JSONValue) -> [ValidationIssue] {
        var issues = Issues()
        guard let object = issues.object(value, at: .root) else { return issues.list }
        if object["action"] == .string(PostingAction.withdraw.rawValue) {
            issues.requireFields(["id"], in: object, at: .root)
            if let id = object["id"] { issues.checkID(id, at: "/id") }
            if let updatedAt = object["updatedAt"] { issues.checkDateTime(updatedAt, at: "/updatedAt") }
            return issues.list
        }
        issues.requireFields(Self.requiredPostingFields, in: object, at: .root)
        if let id = object["id"] { issues.checkID(id, at: "/id") }
        if let action = object["action"], action != .string("publish"), action != .string("withdraw") {
            issues.add("/action", .enumeration, "must be \"publish\" or \"withdraw\", got \(Issues.show(action))")
        }
        if let employer = object["employer"], let fields = issues.object(employer, at: "/employer") {
            issues.requireFields(["name"], in: fields, at: "/employer")
            issues.text(fields["name"], at: "/employer/name", max: Limits.employerName)
            if let code = fields["creditCode"] { issues.checkCreditCode(code, at: "/employer/creditCode") }
        }
        issues.text(object["title"], at: "/title", max: Limits.title)
        issues.text(object["industry"], at: "/industry", max: Limits.industry)
        if let headcount = object["headcount"] { issues.integer(headcount, at: "/headcount", in: Limits.headcount) }
        if let salary = object["salary"], let fields = issues.object(salary, at: "/salary") {
            issues.requireFields(["min", "max"], in: fields, at: "/salary")
            if let min = fields["min"] { issues.integer(min, at: "/salary/min", in: Limits.salary) }
            if let max = fields["max"] { issues.integer(max, at: "/salary/max", in: Limits.salary) }
            if let min = fields["min"]?.integerValue, let max = fields["max"]?.integerValue, min > max {
                issues.add("/salary/min", .salaryOrder, "\(min) is above /salary/max \(max)")
            }
        }
        if let location = object["location"], let fields = issues.object(location, at: "/location") {
            issues.requireFields(["city"], in: fields, at: "/location")
            issues.text(fields["city"], at: "/location/city", max: Limits.city)
            issues.text(fields["district"], at: "/location/district", max: Limits.district)
            issues.text(fields["address"], at: "/location/address", max: Limits.address)
        }
        if let contact = object["contact"], let fields = issues.object(contact, at: "/contact") {
            issues.requireFields(["phone"], in: fields, at: "/contact")
            issues.text(fields["name"], at: "/contact/name", max: Limits.contactName)
            if let phone = fields["phone"] { issues.checkPhone(phone, at: "/contact/phone") }
        }
        if let date = object["validUntil"] { issues.checkDate(date, at: "/validUntil") }
        if let updatedAt = object["updatedAt"] { issues.checkDateTime(updatedAt, at: "/updatedAt") }
        if let publishAt = object["publishAt"] { issues.checkDateTime(publishAt, at: "/publishAt") }
        issues.text(object["requirements"], at: "/requirements", max: Limits.requirements)
        issues.text(object["training"], at: "/training", max: Limits.training)
        issues.text(object["program"], at: "/program", max: Limits.program)
        issues.textList(object["benefits"], at: "/benefits", limits: Limits.benefits)
        issues.textList(object["targetGroups"], at: "/targetGroups", limits: Limits.targetGroups)
        issues.textList(object["sourceCounties"], at: "/sourceCounties", limits: Limits.sourceCounties)
        return issues.list
    }
}

/// Collects issues; one method per kind of schema rule.
private struct Issues {
    var list: [ValidationIssue] = []

    mutating func add(_ pointer: JSONPointer, _ rule: ValidationIssue.Rule, _ message: String) {
        list.append(ValidationIssue(pointer: pointer, rule: rule, message: message))
    }

    static func show(_ value: JSONValue) -> String {
        switch value {
        case .string(let s): s.unicodeScalars.count > 40 ? "a string of \(s.unicodeScalars.count) characters" : "\"\(s)\""
        case .number(let n): n.rounded() == n && abs(n) < 1e15 ? String(Int(n)) : String(n)
        case .bool(let b): String(b)
        case .null: "null"
        case .array: "an array"
        case .object: "an object"
        }
    }

    mutating func typeMismatch(_ value: JSONValue, at pointer: JSONPointer, expected: String) {
        add(pointer, .type, "must be \(expected), got \(value.typeName) \(Self.show(value))")
    }

    mutating func object(_ value: JSONValue, at pointer: JSONPointer) -> [String: JSONValue]? {
        guard let object = value.objectValue else {
            typeMismatch(value, at: pointer, expected: "an object")
            return nil
        }
        return object
    }

    mutating func requireFields(_ names: [String], in object: [String: JSONValue], at pointer: JSONPointer) {
        for name in names where object[name] == nil {
            add(pointer.appending(name), .required, "is required")
        }
    }

    mutating func string(_ value: JSONValue, at pointer: JSONPointer) -> String? {
        guard let s = value.stringValue else {
            typeMismatch(value, at: pointer, expected: "a string")
            return nil
        }
        return s
    }

    /// Lengths are counted in Unicode code points, as JSON Schema does.
    mutating func length(_ s: String, at pointer: JSONPointer, in range: ClosedRange<Int>) {
        let count = s.unicodeScalars.count
        if count < range.lowerBound {
            add(pointer, .minLength, range.lowerBound == 1 ? "must not be empty" : "has \(count) characters, fewer than \(range.lowerBound)")
        } else if count > range.upperBound {
            add(pointer, .maxLength, "has \(count) characters, more than \(range.upperBound)")
        }
    }

    /// An optional non-empty text field.
    mutating func text(_ value: JSONValue?, at pointer: JSONPointer, max: Int) {
        guard let value, let s = string(value, at: pointer) else { return }
        length(s, at: pointer, in: 1...max)
    }

    mutating func textList(_ value: JSONValue?, at pointer: JSONPointer, limits: (items: Int, length: Int)) {
        guard let value else { return }
        guard let items = value.arrayValue else {
            typeMismatch(value, at: pointer, expected: "an array of strings")
            return
        }
        if items.count > limits.items {
            add(pointer, .maxItems, "has \(items.count) items, more than \(limits.items)")
        }
        for (i, item) in items.enumerated() {
            text(item, at: pointer.appending(i), max: limits.length)
        }
    }

    mutating func integer(_ value: JSONValue, at pointer: JSONPointer, in range: ClosedRange<Int>) {
        guard case .number(let n) = value else {
            typeMismatch(value, at: pointer, expected: "an integer")
            return
        }
        if value.integerValue == nil && !(n.isFinite && n.rounded() == n) {
            typeMismatch(value, at: pointer, expected: "an integer")
            return
        }
        if n < Double(range.lowerBound) {
            add(pointer, .minimum, "\(Self.show(value)) is below the minimum \(range.lowerBound)")
        } else if n > Double(range.upperBound) {
            add(pointer, .maximum, "\(Self.show(value)) is above the maximum \(range.upperBound)")
        }
    }

    mutating func checkID(_ value: JSONValue, at pointer: JSONPointer) {
        guard let id = string(value, at: pointer) else { return }
        length(id, at: pointer, in: PostingValidator.Limits.idLength)
        let scalars = Array(id.unicodeScalars)
        if let first = scalars.first,
            !Self.isASCIIAlphanumeric(first) || !scalars.dropFirst().allSatisfy({ Self.isASCIIAlphanumeric($0) || "._:-".unicodeScalars.contains($0) })
        {
            add(pointer, .pattern, "must be letters, digits and . _ : - only, starting with a letter or digit")
        }
    }

    mutating func checkCreditCode(_ value: JSONValue, at pointer: JSONPointer) {
        guard let code = string(value, at: pointer) else { return }
        let n = PostingValidator.Limits.creditCodeLength
        length(code, at: pointer, in: n...n)
        let allowed = "0123456789ABCDEFGHJKLMNPQRTUWXY".unicodeScalars
        if !code.unicodeScalars.allSatisfy({ allowed.contains($0) }) {
            add(pointer, .pattern, "must be digits and capital letters other than I, O, S, V, Z")
        }
    }

    mutating func checkPhone(_ value: JSONValue, at pointer: JSONPointer) {
        guard let phone = string(value, at: pointer) else { return }
        length(phone, at: pointer, in: PostingValidator.Limits.phoneLength)
        if !phone.isEmpty, !Self.isPhone(phone) {
            add(pointer, .pattern, "must be digits, spaces, ( ) + and - only, starting with + or a digit, then optionally an extension such as 转 8001 or ext. 12")
        }
    }

    /// The schema's `^[0-9+][0-9 ()+-]*((转|分机|[Ee][Xx][Tt]\.?|[Xx]) ?[0-9]{1,6})?$`: the number, then optionally an
    /// extension marker, one optional space and 1 to 6 digits.
    static func isPhone(_ phone: String) -> Bool {
        let scalars = Array(phone.unicodeScalars)
        let digits = "0123456789".unicodeScalars
        let number = "0123456789 ()+-".unicodeScalars
        guard let first = scalars.first, digits.contains(first) || first == "+" else { return false }
        let numberEnd = scalars.indices.dropFirst().first { !number.contains(scalars[$0]) } ?? scalars.count
        var rest = String(String.UnicodeScalarView(scalars[numberEnd...]))[...]
        if rest.isEmpty { return true }
        guard let marker = ["转", "分机", "ext.", "ext", "x"].first(where: { rest.lowercased().hasPrefix($0) }) else { return false }
        rest = rest.dropFirst(marker.count)
        if rest.first == " " { rest = rest.dropFirst() }
        return (1...6).contains(rest.count) && rest.unicodeScalars.allSatisfy { digits.contains($0) }
    }

    /// `YYYY-MM-DD` and a real calendar date (RFC 3339 full-date).
    mutating func checkDate(_ value: JSONValue, at pointer: JSONPointer) {
        guard let text = string(value, at: pointer) else { return }
        guard let date = CalendarDate(text) else {
            add(pointer, .format, "must be a date YYYY-MM-DD, got \(Self.show(value))")
            return
        }
        if !date.isReal {
            add(pointer, .format, "\(text) is not a calendar date")
        }
    }

    /// An RFC 3339 date-time with a real calendar date and an offset (`Z` or `±HH:MM`): a message's version.
    mutating func checkDateTime(_ value: JSONValue, at pointer: JSONPointer) {
        guard let text = string(value, at: pointer) else { return }
        if PostingVersion.milliseconds(rfc3339: text) == nil {
            add(pointer, .format, "must be an RFC 3339 date-time such as 2026-03-01T09:30:00+08:00, got \(Self.show(value))")
        }
    }

    static func isASCIIAlphanumeric(_ s: Unicode.Scalar) -> Bool {
        ("a"..."z").contains(s) || ("A"..."Z").contains(s) || ("0"..."9").contains(s)
    }
}
