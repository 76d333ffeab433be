import Foundation
import JobCastCore

/// The committed sample job fair (Samples/spring-job-fair.*).
public enum SampleData {
    public static let employers = 38
    public static let positions = 49_228

    /// A morning of the fair (February 2023; the postings close from 2023-04-30 to 2023-07-31): the "now" every
    /// `jobcast` process the tests start takes by default (`JOBCAST_NOW`, ``childEnvironment``) and the in-process
    /// workers use, so that the sample postings are open. The lifecycle tests set their own.
    public static let now = "2023-03-01T09:00:00+08:00"

    /// What a spawned process's environment holds unless the process's own environment or the test says otherwise.
    public static let childEnvironment = ["JOBCAST_NOW": now]

    /// ``now`` as a ``PostingClock`` in Asia/Shanghai.
    public static var clock: PostingClock {
        PostingClock(fixedNow: Date(timeIntervalSince1970: Double(PostingVersion.milliseconds(rfc3339: now)!) / 1000))
    }

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
