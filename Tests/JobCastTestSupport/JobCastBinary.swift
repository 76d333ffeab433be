import Foundation

/// The built `jobcast` executable, for tests that run it as users do.
public enum JobCastBinary {
    public struct NotBuilt: Error, CustomStringConvertible {
        public var description: String
    }

    /// `jobcast` next to the test bundle in the build folder, or `JOBCAST_BIN`.
    public static func url() throws -> URL {
        if let path = ProcessInfo.processInfo.environment["JOBCAST_BIN"] {
            return URL(fileURLWithPath: path)
        }
        let bundle = URL(fileURLWithPath: CommandLine.arguments[0]).resolvingSymlinksInPath()
        var directory = bundle.deletingLastPathComponent()
        for _ in 0..<3 {
            let candidate = directory.appendingPathComponent("jobcast")
            if FileManager.default.isExecutableFile(atPath: candidate.path) { return candidate }
            directory = directory.deletingLastPathComponent()
        }
        throw NotBuilt(description: "no jobcast binary near \(bundle.path): run `swift build` first (or set JOBCAST_BIN)")
    }
}
