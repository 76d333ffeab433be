import Foundation
import JobCastCore
import JobCastTestSupport
import Testing

/// Inputs as bureaus have them: CSV saved by Chinese Excel (GBK), UTF-16 text, headers that are not field names.
@Suite("Input encodings and CSV headers")
struct InputEncodingTests {
    static let header = "id,employer.name,title,industry,headcount,salary.min,salary.max,location.city,contact.phone,validUntil\n"
    static let row = "gbk-1,上海博海餐饮集团有限公司,中餐厨师助理,餐饮,12,5500,7000,上海市,021-52561288,2027-04-30\n"

    @Test("a GBK CSV read as UTF-8 is one problem at the first bad line, suggesting --encoding gbk; nothing is read")
    func gbkAsUTF8IsRefused() throws {
        let data = Data((Self.header).utf8) + (try Self.gbkBytes(Self.row))
        let result = PostingFileReader().read(data, source: "bureau.csv", format: .csv)
        #expect(result.records.isEmpty)
        #expect(result.problems.count == 1)
        let problem = try #require(result.problems.first)
        #expect(problem.line == 2)
        #expect(problem.description.hasPrefix("bureau.csv:2: not UTF-8 text"), "\(problem)")
        #expect(problem.description.contains("--encoding gbk"), "\(problem)")
    }

    @Test("with --encoding gbk or gb18030 the same file reads as the UTF-8 one does", arguments: [PostingInputEncoding.gbk, .gb18030])
    func gbkReads(encoding: PostingInputEncoding) throws {
        let data = Data((Self.header).utf8) + (try Self.gbkBytes(Self.row))
        let result = PostingFileReader().read(data, source: "bureau.csv", format: .csv, encoding: encoding)
        #expect(result.problems.isEmpty, "\(result.problems)")
        let utf8 = PostingFileReader().read(Data((Self.header + Self.row).utf8), source: "bureau.csv", format: .csv)
        #expect(result.records.map(\.value) == utf8.records.map(\.value))
        #expect(result.records.first?.value["title"] == "中餐厨师助理")
    }

    @Test("bytes that are not GBK are a problem at their line")
    func notGBK() {
        let data = Data("id\nok\n".utf8) + Data([0x81, 0x20, 0x0A])
        let result = PostingFileReader().read(data, source: "x.csv", format: .csv, encoding: .gbk)
        #expect(result.records.isEmpty)
        #expect(result.problems.map(\.line) == [3])
        #expect(result.problems.first?.message.hasPrefix("not GBK text") == true)
    }

    @Test("UTF-16 files are refused with a word on what they are", arguments: ["json", "csv", "jsonl"])
    func utf16File(format: String) throws {
        let text = "{\"id\": \"a\"}\n"
        let data = Data([0xFF, 0xFE]) + text.data(using: .utf16LittleEndian)!
        let result = PostingFileReader().read(data, source: "in", format: PostingInputFormat(rawValue: format)!)
        #expect(result.records.isEmpty)
        #expect(result.problems.first?.message.contains("UTF-16") == true, "\(result.problems)")
    }

    @Test("a message body in UTF-16, with or without a byte-order mark, is not UTF-8 JSON", arguments: [true, false])
    func utf16Body(bom: Bool) throws {
        let json = #"{"id":"a","title":"厨师"}"#
        let data = (bom ? Data([0xFF, 0xFE]) : Data()) + json.data(using: .utf16LittleEndian)!
        #expect(throws: JSONValue.NotUTF8.self) { try JSONValue(data: data) }
        #expect(PostingValidator().validate(data: data).first?.message == "not UTF-8 JSON")
        // A UTF-8 byte-order mark is still UTF-8.
        #expect(try JSONValue(data: Data([0xEF, 0xBB, 0xBF]) + Data(json.utf8))["id"] == "a")
    }

    @Test("a header column that is not a field name ('.', 'a.', '.b', 'a..b') is refused", arguments: [".", "salary.", ".min", "salary..min"])
    func dotColumns(column: String) {
        let result = PostingFileReader().read(Data("id,\(column)\nx,{}\n".utf8), source: "in.csv", format: .csv)
        #expect(result.records.isEmpty)
        #expect(result.problems.map(\.line) == [1])
        #expect(result.problems.first?.message.contains("'\(column)' is not a field name") == true, "\(result.problems)")
    }
}

extension InputEncodingTests {
    /// GBK bytes of `text`, through iconv(1) reading from a file (stdout as String would mangle them).
    static func gbkBytes(_ text: String) throws -> Data {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("jobcast-gbk-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: directory) }
        let input = directory.appendingPathComponent("in.txt")
        let output = directory.appendingPathComponent("out.txt")
        try Data(text.utf8).write(to: input)
        let result = try runProcessBlocking(
            URL(fileURLWithPath: "/bin/sh"), ["-c", "iconv -f UTF-8 -t GBK \"$0\" > \"$1\"", input.path, output.path], environment: [:], stdin: nil)
        #expect(result.status == 0, "\(result.stderr)")
        return try Data(contentsOf: output)
    }
}
