import Foundation
import JobCastCore
import JobCastTestSupport
import Testing

@Suite("Input files: JSON, JSON Lines and CSV with line numbers")
struct PostingInputTests {
    let reader = PostingFileReader()

    func read(_ text: String, _ format: PostingInputFormat, source: String = "in") -> PostingReadResult {
        reader.read(Data(text.utf8), source: source, format: format)
    }

    @Test("the samples read the same in every format: 38 employers, 49,228 positions", arguments: PostingInputFormat.allCases)
    func samples(format: PostingInputFormat) throws {
        let file = "Samples/spring-job-fair.\(format.rawValue)"
        let result = reader.read(try RepositoryPaths.data(file), source: file, format: format)
        #expect(result.problems.isEmpty)
        let prepared = PreparedPosting.prepare(result.records)
        #expect(prepared.problems.isEmpty)
        #expect(Set(prepared.postings.compactMap(\.employerName)).count == SampleData.employers)
        #expect(prepared.postings.map(\.headcount).reduce(0, +) == SampleData.positions)
        #expect(result.records.map(\.value) == (try SampleData.jsonValues()))
    }

    @Test("a JSON array element keeps the line it starts on")
    func jsonArrayLines() {
        let text = "[\n  {\"id\": \"a\"},\n\n  {\n    \"id\": \"b\",\n    \"x\": [1, \"]\\\"\"]\n  },\n  {\"id\": broken}\n]\n"
        let result = read(text, .json)
        #expect(result.records.map(\.line) == [2, 4])
        #expect(result.records.map { $0.value["id"]?.stringValue } == ["a", "b"])
        #expect(result.problems.map(\.line) == [8])
        #expect(result.problems.first?.description.hasPrefix("in:8: not JSON") == true)
    }

    @Test("one JSON object is one posting on its first line")
    func jsonSingleObject() {
        let result = read("\n\n{\"id\": \"a\"}\n", .json)
        #expect(result.records.map(\.line) == [3])
    }

    @Test("JSON Lines: blank lines skipped, a bad line reported with its number, CRLF accepted")
    func jsonLines() {
        let result = read("{\"id\":\"a\"}\r\n\r\n{oops}\n{\"id\":\"c\"}", .jsonl)
        #expect(result.records.map(\.line) == [1, 4])
        #expect(result.problems.map(\.line) == [3])
    }

    @Test("CSV: BOM, CRLF, quoted commas, newlines and doubled quotes; lines counted through quoted newlines")
    func csvQuoting() {
        let text = "\u{FEFF}id,title,benefits,salary.min,salary.max\r\n"
            + "a,\"Cook, head\",包吃;五险一金 ; ,5000,6000\r\n"
            + "b,\"Two\nlines \"\"quoted\"\"\",,x,7000\r\n"
            + "c,Plain,,1,2"
        let result = read(text, .csv)
        #expect(result.problems.isEmpty)
        #expect(result.records.map(\.line) == [2, 3, 5])
        let a = result.records[0].value
        #expect(a["title"] == "Cook, head")
        #expect(a["benefits"] == ["包吃", "五险一金"])
        #expect(a["salary"] == ["min": 5000, "max": 6000])
        let b = result.records[1].value
        #expect(b["title"] == "Two\nlines \"quoted\"")
        #expect(b["benefits"] == nil)
        #expect(b["salary"]?["min"] == "x")
    }

    @Test("CSV: a row with the wrong field count or a stray quote is reported at its line, the others read")
    func csvProblems() {
        let text = "id,title\na,one\nb,two,extra\nc,t\"x\nd,\"unclosed\n"
        let result = read(text, .csv, source: "jobs.csv")
        #expect(result.records.map(\.line) == [2])
        #expect(result.problems.map(\.line) == [3, 4, 5])
        #expect(result.problems[0].description.hasPrefix("jobs.csv:3: this row has 3 fields"))
    }

    @Test("validation problems read FILE:LINE: /pointer: message; a repeated id is rejected")
    func preparedProblems() throws {
        var values = try SampleData.jsonValues()
        guard case .object(var broken) = values[1] else { Issue.record("not an object"); return }
        broken["salary"] = ["min": 9000, "max": 8000]
        values[1] = .object(broken)
        values.append(values[0])
        let records = values.enumerated().map { PostingRecord(source: "f.jsonl", line: $0.offset + 1, value: $0.element) }
        let prepared = PreparedPosting.prepare(records)
        #expect(prepared.postings.count == values.count - 2)
        #expect(prepared.problems.map(\.description).contains("f.jsonl:2: /salary/min: 9000 is above /salary/max 8000"))
        #expect(prepared.problems.contains { $0.line == values.count && $0.pointer == "/id" && $0.message.contains("already at f.jsonl:1") })
    }

    /// Inputs where a chunk boundary can fall in the middle of anything: a BOM, a CRLF, a quoted cell, a
    /// number, a string holding `]`, and broken records.
    static let chunkingCases: [(String, PostingInputFormat?)] = [
        ("\u{FEFF}id,title,benefits\r\na,\"Cook, head\",x;y\r\nb,\"Two\r\nlines \"\"q\"\"\",\r\nc,t\"x\r\nd,e,f,g\r\ne,last,1", .csv),
        ("id,title\nd,\"unclosed\n", .csv),
        ("id,id\na,b\n", .csv),
        ("", .csv),
        ("{\"id\":\"a\"}\r\n\r\n{oops}\n{\"id\":\"c\",\"n\":12345}", .jsonl),
        ("[\n  {\"id\": \"a\"},\n\n  {\n    \"id\": \"b\",\n    \"x\": [1, \"]\\\"\"]\n  },\n  {\"id\": broken}, 12345 , \"s\"\n]\n", .json),
        ("[{\"id\": \"a\"} {\"id\": \"b\"}]", .json),
        ("[{\"id\": \"a\"}", .json),
        ("[{\"id\": \"a\"}] x", .json),
        ("\n\n{\"id\": \"a\"}\n", .json),
        ("   ", .json),
        ("{\"id\":\"a\"}\n{\"id\":\"b\"}\n", nil),
        ("{\n\"id\":\"a\"}\n", nil),
        ("id,title\na,b\n", nil),
    ]

    @Test("fed in chunks of any size, the stream reader reads what the whole input reads", arguments: [1, 2, 3, 7, 64])
    func chunked(size: Int) throws {
        var cases = Self.chunkingCases
        for format in PostingInputFormat.allCases {
            cases.append((String(decoding: try RepositoryPaths.data("Samples/spring-job-fair.\(format.rawValue)"), as: UTF8.self), format))
        }
        for (text, format) in cases {
            let bytes = Array(text.utf8)
            var whole = PostingStreamReader(source: "in", format: format)
            var expected = whole.feed(bytes)
            let end = whole.finish()
            expected.records += end.records
            expected.problems += end.problems
            var reader = PostingStreamReader(source: "in", format: format)
            var records: [PostingRecord] = []
            var problems: [InputProblem] = []
            var offset = 0
            while offset < bytes.count {
                let part = reader.feed(bytes[offset..<min(bytes.count, offset + size)])
                records += part.records
                problems += part.problems
                offset += size
            }
            let rest = reader.finish()
            records += rest.records
            problems += rest.problems
            let label = "\(format?.rawValue ?? "sniffed") in chunks of \(size): \(text.prefix(40).debugDescription)"
            #expect(records.map(\.line) == expected.records.map(\.line), "\(label)")
            #expect(records.map(\.value) == expected.records.map(\.value), "\(label)")
            #expect(problems == expected.problems, "\(label)")
            #expect(reader.format == whole.format, "\(label)")
        }
        // And the whole input reads as it did before streaming (the cases above, checked by hand).
        let csv = read(Self.chunkingCases[0].0, .csv)
        #expect(csv.records.map(\.line) == [2, 3, 7])
        #expect(csv.problems.map(\.line) == [5, 6])
        let json = read(Self.chunkingCases[5].0, .json)
        #expect(json.records.map(\.line) == [2, 4, 8, 8])
        #expect(json.problems.map(\.line) == [8])
    }

    @Test("the format comes from the extension, or from the content for standard input")
    func formats() {
        #expect(PostingInputFormat.guess(fromPath: "a.JSONL") == .jsonl)
        #expect(PostingInputFormat.guess(fromPath: "a.csv") == .csv)
        #expect(PostingInputFormat.guess(fromPath: "-") == nil)
        #expect(PostingInputFormat.sniff(Data("[{}]".utf8)) == .json)
        #expect(PostingInputFormat.sniff(Data("{\"a\":1}\n{\"a\":2}\n".utf8)) == .jsonl)
        #expect(PostingInputFormat.sniff(Data("{\n\"a\":1}\n".utf8)) == .json)
        #expect(PostingInputFormat.sniff(Data("id,title\n".utf8)) == .csv)
    }
}
