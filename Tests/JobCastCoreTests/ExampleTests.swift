import Foundation
import JobCastCore
import JobCastTestSupport
import Testing

/// Every file in Schemas/examples is judged as its name says, by the Swift validator.
@Suite struct ExampleTests {
    static let validNames = (try? RepositoryPaths.files(in: "Schemas/examples/valid", withExtension: "json")) ?? []
    static let invalidNames = (try? RepositoryPaths.files(in: "Schemas/examples/invalid", withExtension: "json")) ?? []

    /// Schemas/examples/invalid/expected-pointers.tsv: file → every pointer it must be rejected at.
    static func expectedPointers() throws -> [String: Set<String>] {
        let text = String(decoding: try RepositoryPaths.data("Schemas/examples/invalid/expected-pointers.tsv"), as: UTF8.self)
        var result: [String: Set<String>] = [:]
        for line in text.split(separator: "\n") where !line.hasPrefix("#") {
            let parts = line.split(separator: "\t", omittingEmptySubsequences: false)
            result[String(parts[0])] = Set(parts[1].split(separator: " ").map { $0 == "\"\"" ? "" : String($0) })
        }
        return result
    }

    @Test func examplesExist() throws {
        #expect(Self.validNames.count >= 5)
        #expect(Self.invalidNames.count >= 30)
        #expect(Set(try Self.expectedPointers().keys) == Set(Self.invalidNames), "every invalid example needs a line in expected-pointers.tsv")
    }

    @Test(arguments: validNames)
    func validExamplePasses(_ name: String) throws {
        let data = try RepositoryPaths.data("Schemas/examples/valid/\(name)")
        #expect(PostingValidator().validate(data: data) == [])
        _ = try PostingMessage.decode(data)
    }

    @Test(arguments: invalidNames)
    func invalidExampleIsRejectedAtTheExpectedPointers(_ name: String) throws {
        let data = try RepositoryPaths.data("Schemas/examples/invalid/\(name)")
        let expected = try #require(try Self.expectedPointers()[name])
        let error = try #require(throws: PostingValidationError.self) { try PostingMessage.decode(data) }
        #expect(error.code == .invalid)
        #expect(Set(error.issues.map(\.pointer.description)) == expected, "\(error)")
        #expect(error.issues.allSatisfy { !$0.message.isEmpty })
    }
}
