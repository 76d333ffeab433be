import Foundation
import JobCastCore

/// What `jobcast publish` and `jobcast withdraw` did, as the closing line or (`--json`) one JSON object.
struct PublishSummary: Encodable {
    struct Problem: Encodable {
        var file: String
        var line: Int
        var pointer: String?
        var id: String?
        var message: String
    }

    /// Records read (valid or not).
    var postings = 0
    /// Postings confirmed by the broker (withdrawals included).
    var published = 0
    /// Of those, withdrawals.
    var withdrawn = 0
    /// Distinct employers and sum of headcount of the published postings.
    var employers = 0
    var positions = 0
    /// Records rejected (each counted once, however many problems it has).
    var rejected = 0
    var dryRun = false
    var strict = false
    var reconnects = 0
    var republished = 0
    var seconds = 0.0
    /// Confirmed postings per second while publishing.
    var rate = 0.0
    var error: String?
    var problems: [Problem] = []

    init(records: Int, problems: [InputProblem]) {
        count(records: records, problems: problems)
    }

    /// Adds records read and their problems. A record's problems all come in one call (they share its line).
    mutating func count(records: Int, problems: [InputProblem]) {
        postings += records
        rejected += Set(problems.map { "\($0.source)\u{0}\($0.line)" }).count
        self.problems += problems.map {
            Problem(file: $0.source, line: $0.line, pointer: $0.pointer?.description, id: $0.postingID, message: $0.message)
        }
    }

    var text: String {
        var words: [String] = []
        if dryRun {
            words.append("dry run: \(postings - rejected) of \(postings) postings valid, nothing published")
        } else {
            words.append("published \(published) of \(postings) postings (\(employers) employers, \(positions) positions")
            words[0] += withdrawn > 0 ? ", \(withdrawn) withdrawals)" : ")"
        }
        words.append("rejected \(rejected)")
        if strict && rejected > 0 && !dryRun { words.append("--strict: nothing published") }
        if reconnects > 0 { words.append("\(reconnects) reconnects, \(republished) republished") }
        if published > 0 { words.append(String(format: "%.1f s, %.0f/s", seconds, rate)) }
        return words.joined(separator: "; ")
    }

    func jsonData() throws -> Data {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        return try encoder.encode(self)
    }
}
