import Foundation

/// One posting read from an input file, with where it came from so that every problem can be reported as
/// `FILE:LINE: /pointer: message`.
public struct PostingRecord: Sendable {
    /// The file name as the user gave it (`-` is standard input).
    public var source: String
    /// The 1-based line where the record starts (for a JSON array element: the line of its opening brace).
    public var line: Int
    public var value: JSONValue

    public init(source: String, line: Int, value: JSONValue) {
        self.source = source
        self.line = line
        self.value = value
    }

    /// `FILE:LINE`
    public var location: String { "\(source):\(line)" }
}

/// A problem with one record of an input file: it could not be read, or it breaks the posting contract.
public struct InputProblem: Error, Sendable, Hashable, CustomStringConvertible {
    public var source: String
    public var line: Int
    /// The JSON pointer into the posting; `nil` when the record itself could not be read.
    public var pointer: JSONPointer?
    public var message: String
    /// The posting id when the record had a readable one.
    public var postingID: String?

    public init(source: String, line: Int, pointer: JSONPointer? = nil, message: String, postingID: String? = nil) {
        self.source = source
        self.line = line
        self.pointer = pointer
        self.message = message
        self.postingID = postingID
    }

    /// `FILE:LINE: /pointer: message`, or `FILE:LINE: message` when the record could not be read.
    public var description: String {
        guard let pointer else { return "\(source):\(line): \(message)" }
        return "\(source):\(line): \(pointer.description.isEmpty ? "(root)" : pointer.description): \(message)"
    }
}

/// What a reader made of one file: the records it could read and the problems with the others.
public struct PostingReadResult: Sendable {
    public var records: [PostingRecord] = []
    public var problems: [InputProblem] = []

    public init(records: [PostingRecord] = [], problems: [InputProblem] = []) {
        self.records = records
        self.problems = problems
    }
}
