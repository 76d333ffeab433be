import Foundation

/// The file formats `jobcast publish` reads.
public enum PostingInputFormat: String, Sendable, CaseIterable {
    /// One posting (an object) or an array of postings.
    case json
    /// JSON Lines: one posting per line.
    case jsonl
    /// A spreadsheet saved as CSV: a header of dotted field names (`salary.min`), lists separated by `;`.
    case csv

    /// The format a file name's extension implies: `.json`, `.jsonl`/`.ndjson`, `.csv`; `nil` when unknown.
    public static func guess(fromPath path: String) -> PostingInputFormat? {
        let lower = path.lowercased()
        if lower.hasSuffix(".jsonl") || lower.hasSuffix(".ndjson") { return .jsonl }
        if lower.hasSuffix(".json") { return .json }
        if lower.hasSuffix(".csv") { return .csv }
        return nil
    }
}

extension PostingInputFormat {
    /// The format of content with no telling file name (standard input): `[` starts JSON, `{` JSON (one posting
    /// over several lines) or JSON Lines (one per line), anything else CSV.
    public static func sniff(_ data: Data) -> PostingInputFormat {
        let bytes = data.prefix(1 << 16).drop { [0x20, 0x09, 0x0A, 0x0D, 0xEF, 0xBB, 0xBF].contains($0) }
        switch bytes.first {
        case UInt8(ascii: "["): return .json
        case UInt8(ascii: "{"):
            let firstLine = bytes.prefix { $0 != 0x0A }
            return (try? JSONValue(data: Data(firstLine))) != nil ? .jsonl : .json
        default: return .csv
        }
    }
}
