import Foundation
import JobCastCore

/// The committed sample job fair (Samples/spring-job-fair.*).
public enum SampleData {
    public static let employers = 38
    public static let positions = 49_228

    /// Samples/spring-job-fair.json as raw JSON values, one per posting.
    public static func jsonValues() throws -> [JSONValue] {
        guard case .array(let items) = try JSONValue(data: RepositoryPaths.data("Samples/spring-job-fair.json")) else {
            throw ReferenceValidator.Failure(description: "Samples/spring-job-fair.json is not an array")
        }
        return items
    }

    /// The sample postings, validated and decoded.
    public static func postings() throws -> [Posting] {
        try jsonValues().map { value in
            guard case .publish(let posting) = try PostingMessage.decode(value) else {
                throw ReferenceValidator.Failure(description: "a sample is a withdrawal")
            }
            return posting
        }
    }
}
