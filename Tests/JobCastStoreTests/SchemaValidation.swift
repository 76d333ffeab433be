import Foundation
import JobCastTestSupport
import Testing

/// The repository root, found from this file's path.
let repositoryRoot: URL = URL(fileURLWithPath: #filePath)
    .deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()

/// Validates JSON against a schema in Schemas/ with Python's `jsonschema` (Draft 2020-12).
/// Returns the validator's complaints; records an issue if python3 or jsonschema is missing.
func schemaErrors(of json: Data, against schemaName: String) throws -> [String] {
    let directory = FileManager.default.temporaryDirectory.appendingPathComponent("jobcast-schema-\(UUID().uuidString)")
    try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
    defer { try? FileManager.default.removeItem(at: directory) }
    let document = directory.appendingPathComponent("document.json")
    try json.write(to: document)
    let schema = repositoryRoot.appendingPathComponent("Schemas/\(schemaName)").path

    let script = """
        import json, sys
        try:
            import jsonschema
        except ImportError:
            print("MISSING: the Python module jsonschema is not installed (pip install jsonschema)")
            sys.exit(3)
        schema = json.load(open(sys.argv[1], encoding="utf-8"))
        document = json.load(open(sys.argv[2], encoding="utf-8"))
        validator = jsonschema.Draft202012Validator(schema, format_checker=jsonschema.FormatChecker())
        for error in validator.iter_errors(document):
            print("/".join(str(p) for p in error.absolute_path) + ": " + error.message)
        """
    let result = try runProcessBlocking(URL(fileURLWithPath: "/usr/bin/env"), ["python3", "-c", script, schema, document.path], environment: [:], stdin: nil)
    let lines = (result.stdout + result.stderr).split(separator: "\n").map(String.init)
    if result.status != 0 {
        Issue.record("schema validation could not run (exit \(result.status)): \(lines.joined(separator: "; "))")
        return lines.isEmpty ? ["validator failed"] : lines
    }
    return lines
}
