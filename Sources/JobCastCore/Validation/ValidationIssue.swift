/// One violation of the posting contract: where it is and what is wrong, in plain words.
public struct ValidationIssue: Sendable, Hashable, CustomStringConvertible {
    /// What kind of rule failed; stable, for programs and metrics.
    public enum Rule: String, Sendable, Hashable {
        case json, type, required, minLength, maxLength, pattern, format, minimum, maximum, maxItems, enumeration
        case salaryOrder
    }

    public let pointer: JSONPointer
    public let rule: Rule
    public let message: String

    public init(pointer: JSONPointer, rule: Rule, message: String) {
        self.pointer = pointer
        self.rule = rule
        self.message = message
    }

    /// `/salary/min: 9000 is above /salary/max 8000`
    public var description: String {
        pointer.description.isEmpty ? "(root): \(message)" : "\(pointer): \(message)"
    }
}
