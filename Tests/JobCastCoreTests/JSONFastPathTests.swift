import Foundation
import JobCastTestSupport
import Testing

@testable import JobCastCore

/// The fast JSON parser and canonical writer (JSONValue+Parsing, JSONValue+Canonical) against Foundation's
/// JSONDecoder and JSONEncoder, which they replace on the hot path: same values, same bytes (the content hash
/// depends on them), and everything unusual left to Foundation.
@Suite struct JSONFastPathTests {
    static func foundationValue(_ text: String) throws -> JSONValue {
        try JSONDecoder().decode(JSONValue.self, from: Data(text.utf8))
    }

    static func foundationCanonical(_ value: JSONValue) throws -> Data {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        return try encoder.encode(value)
    }

    @Test func samplesParseAndEncodeAsFoundationDoes() throws {
        let lines = try String(contentsOf: RepositoryPaths.url("Samples/spring-job-fair.jsonl"), encoding: .utf8).split(separator: "\n")
        #expect(lines.count > 50)
        for line in lines {
            let fast = try #require(JSONValue.parse(Data(line.utf8)))
            let foundation = try Self.foundationValue(String(line))
            #expect(fast == foundation)
            #expect(fast.canonicalData == (try Self.foundationCanonical(foundation)))
        }
    }

    @Test(arguments: [
        #"{"a":"x\"y\\z\/w","b":[1,-2,0,true,false,null,{}],"c":[],"d":"\u00e9\u4e2d\ud83d\ude00 tab\t"}"#,
        #"{"B":1,"_a":2,"a":3,"Z":4,"zz":{"Y":[{"x":"y"}]}}"#,
        #"{"k1":1,"k10":2,"k2":3,"é":4,"e":5}"#,
        #"  [ "line\nbreak", "ctl\u0001", "sep\u2028", 1.5, 1e3, -0, 9007199254740993 ]  "#,
        #""just a string""#, "42", "null",
        #"{"description":"one\r\ntwo\n\tthree\n","x":"\u001f"}"#,
    ])
    func valuesAndBytesMatchFoundation(_ text: String) throws {
        let foundation = try Self.foundationValue(text)
        #expect(try JSONValue(data: Data(text.utf8)) == foundation)
        if let fast = JSONValue.parse(Data(text.utf8)) { #expect(fast == foundation) }
        #expect(foundation.canonicalData == (try Self.foundationCanonical(foundation)))
    }

    @Test(arguments: [
        "{", "[1,]", "[01]", "[1.]", "[-]", #"["\x"]"#, "[\"a\u{01}b\"]", #"["\ud800"]"#, "[1] x", "tru", "",
        #"["\udc00x"]"#,
    ])
    func theFastParserLeavesTheUnusualToFoundation(_ text: String) throws {
        #expect(JSONValue.parse(Data(text.utf8)) == nil)
        // And JSONValue(data:) still answers as Foundation does: the same value, or an error.
        let foundation = try? Self.foundationValue(text)
        #expect((try? JSONValue(data: Data(text.utf8))) == foundation)
    }

    @Test func invalidUTF8IsRefused() {
        let bytes: [UInt8] = [UInt8(ascii: "\""), 0xC3, 0x28, UInt8(ascii: "\"")]
        #expect(JSONValue.parse(Data(bytes)) == nil)
        #expect((try? JSONValue(data: Data(bytes))) == nil)
    }

    @Test("a key named twice is refused, however the rest of the text sends it to Foundation's decoder", arguments: [
        #"{"a":1,"a":2}"#, #"{"a":1,"\u0061":2}"#, #"{"n":1e400,"a":[{"b":1,"b":1}]}"#, "\u{FEFF}{\"a\":1,\"a\":1}",
        #"{"big":123456789012345678901234567890,"contact":{"phone":"1"},"contact":{"phone":"2"}}"#,
    ])
    func duplicateKeysAreRefused(_ text: String) {
        #expect(throws: JSONValue.DuplicateKey.self) { try JSONValue(data: Data(text.utf8)) }
    }

    @Test("nesting deeper than 512 is refused before Foundation's decoder, which trapped on text ending at its limit", arguments: [
        String(repeating: "[", count: 513), String(repeating: "[", count: 513) + String(repeating: "]", count: 513),
        "{\"a\":" + String(repeating: "{\"b\":", count: 600) + "1" + String(repeating: "}", count: 601),
    ])
    func nestingBeyondTheLimitIsRefused(_ text: String) {
        #expect(throws: JSONValue.TooDeep.self) { try JSONValue(data: Data(text.utf8)) }
        #expect(PostingValidator().validate(data: Data(text.utf8)).first?.message == "not UTF-8 JSON")
    }

    @Test("a raw control character in a string is refused, also where Foundation's decoder reads the text", arguments: [
        "{\"a\":\"x\ty\"}", "{\"n\":1e400,\"a\":\"x\ty\"}", "[\"\u{1F}\"]", #"{"n":1e400,"a":"call-m\-maybe"}"#, #"["\x41", 1e400]"#,
        #"{"n":1e400,"a":"\u1\tr"}"#, #"["\u12", 1e400]"#,
    ])
    func rawControlCharactersAreRefused(_ text: String) {
        #expect((try? JSONValue(data: Data(text.utf8))) == nil)
        #expect(JSONValue.structure(of: Data(text.utf8)).controlInString)
    }

    @Test func bracketsInStringsDoNotCountAsNesting() throws {
        let text = "{\"a\":\"" + String(repeating: "[", count: 600) + "\\\"\",\"b\":1e400}"
        #expect(JSONValue.nestingDepth(Data(text.utf8)) == 1)
    }

    @Test func deepNestingIsLeftToFoundation() {
        let deep = String(repeating: "[", count: 600) + String(repeating: "]", count: 600)
        #expect(JSONValue.parse(Data(deep.utf8)) == nil)
        let shallow = String(repeating: "[", count: 100) + String(repeating: "]", count: 100)
        #expect(JSONValue.parse(Data(shallow.utf8)) != nil)
    }

    @Test func contentHashIsHexSHA256() {
        #expect(ContentHash.of(Data("abc".utf8)) == "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad")
    }
}
