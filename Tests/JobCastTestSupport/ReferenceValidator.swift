import Foundation

/// Python `jsonschema`, driven through scripts/validate-with-jsonschema.py: the reference that the
/// Swift validator and the renderers' output are checked against.
public enum ReferenceValidator {
    /// One file's verdict.
    public struct Verdict: Sendable, Hashable {
        public let file: String
        public let valid: Bool
        public let pointers: Set<String>
    }

    public struct Failure: Error, CustomStringConvertible {
        public let description: String
    }

    /// Validates every `*.json` in `directory` (or the given files) against a schema under Schemas/.
    /// - Throws: ``Failure`` saying to run scripts/test.sh when python3 or jsonschema is missing.
    public static func validate(_ paths: [URL], schema: String = "job-posting.schema.json") throws -> [String: Verdict] {
        let arguments =
            ["python3", RepositoryPaths.url("scripts/validate-with-jsonschema.py").path, "--schema", RepositoryPaths.url("Schemas/\(schema)").path]
            + paths.map(\.path)
        let result: CLIResult
        do {
            result = try runProcessBlocking(URL(fileURLWithPath: "/usr/bin/env"), arguments, environment: [:], stdin: nil)
        } catch {
            throw Failure(description: "cannot start python3 (\(error)): run the tests with scripts/test.sh, which installs python3's jsonschema")
        }
        guard result.status == 0 || result.status == 1 else {
            throw Failure(
                description: """
                    scripts/validate-with-jsonschema.py exited \(result.status): \(result.stderr.suffix(2000))
                    Run the tests with scripts/test.sh (it runs `pip install jsonschema`).
                    """)
        }
        let stdout = Data(result.stdout.utf8)
        var verdicts: [String: Verdict] = [:]
        for line in String(decoding: stdout, as: UTF8.self).split(separator: "\n") {
            guard let object = try JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any],
                let file = object["file"] as? String, let valid = object["valid"] as? Bool,
                let errors = object["errors"] as? [[String: Any]]
            else { throw Failure(description: "unreadable line from the reference validator: \(line)") }
            verdicts[file] = Verdict(file: file, valid: valid, pointers: Set(errors.compactMap { $0["pointer"] as? String }))
        }
        return verdicts
    }

    /// Writes JSON documents to a fresh temporary folder as `<name>.json` and validates them.
    public static func validate(documents: [(name: String, data: Data)], schema: String = "job-posting.schema.json") throws
        -> [String: Verdict]
    {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("jobcast-ref-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: dir) }
        for doc in documents {
            try doc.data.write(to: dir.appendingPathComponent(doc.name + ".json"))
        }
        return try validate([dir], schema: schema)
    }
}
