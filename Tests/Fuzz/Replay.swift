import Foundation
import JobCastChannels
import JobCastCore

#if FUZZING
/// libFuzzer's entry point (built with -sanitize=fuzzer,address -parse-as-library -DFUZZING: scripts/fuzz.sh).
@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzOneInput(_ bytes: UnsafePointer<UInt8>?, _ count: Int) -> CInt {
    FuzzTarget.selected.run(count == 0 || bytes == nil ? Data() : Data(bytes: bytes!, count: count))
    return 0
}

typealias FuzzerDriver = @convention(c) (
    UnsafeMutablePointer<CInt>, UnsafeMutablePointer<UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>?>,
    @convention(c) (UnsafePointer<UInt8>?, Int) -> CInt
) -> CInt

/// SwiftPM links an executable with `main` aliased to `<module>_main` (`--defsym main=jobcast_fuzz_main`), so
/// libFuzzer's own `main` is not used: this one hands over to libFuzzer's driver, found in the executable itself
/// (SwiftPM links executables with --export-dynamic).
@_cdecl("jobcast_fuzz_main")
public func fuzzMain(_ argc: CInt, _ argv: UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>?) -> CInt {
    guard let symbol = dlsym(dlopen(nil, RTLD_NOW), "LLVMFuzzerRunDriver") else {
        FileHandle.standardError.write(Data("jobcast-fuzz: libFuzzer's LLVMFuzzerRunDriver is not linked in (build with -sanitize=fuzzer)\n".utf8))
        return 70
    }
    var argc = argc
    var argv = argv
    return unsafeBitCast(symbol, to: FuzzerDriver.self)(&argc, &argv, fuzzOneInput)
}
#else
/// Without libFuzzer: replays files through the targets, and gives scripts/fuzz.sh what it compares with Python.
///
///     jobcast-fuzz TARGET PATH...              each file (a folder: each file in it) through TARGET; traps as the fuzzer would
///     jobcast-fuzz verdicts PATH...            one JSON line per file: {"file", "valid", "pointers"} from PostingValidator
///     jobcast-fuzz platform-bodies OUT PATH... the platform body of each valid posting, as OUT/<file>.json
@main
enum Replay {
    static func files(_ paths: ArraySlice<String>) -> [URL] {
        paths.flatMap { path -> [URL] in
            var isDirectory: ObjCBool = false
            guard FileManager.default.fileExists(atPath: path, isDirectory: &isDirectory) else { return [] }
            guard isDirectory.boolValue else { return [URL(fileURLWithPath: path)] }
            let names = (try? FileManager.default.contentsOfDirectory(atPath: path)) ?? []
            return names.sorted().map { URL(fileURLWithPath: path).appendingPathComponent($0) }
        }
    }

    static func main() throws {
        let arguments = CommandLine.arguments.dropFirst()
        guard let command = arguments.first else {
            print("usage: jobcast-fuzz TARGET|verdicts PATH... | platform-bodies OUT PATH...; targets: \(FuzzTarget.allCases.map(\.rawValue))")
            exit(64)
        }
        switch command {
        case "verdicts":
            for url in files(arguments.dropFirst()) {
                // Only JSON: the parsers are compared elsewhere (the json target).
                guard let value = try? JSONValue(data: try Data(contentsOf: url)) else { continue }
                let issues = PostingValidator().validate(value)
                let line: [String: Any] = ["file": url.lastPathComponent, "valid": issues.isEmpty, "pointers": Set(issues.map(\.pointer.description)).sorted()]
                print(String(decoding: try JSONSerialization.data(withJSONObject: line, options: [.sortedKeys]), as: UTF8.self))
            }
        case "platform-bodies":
            guard let out = arguments.dropFirst().first else { exit(64) }
            try FileManager.default.createDirectory(atPath: out, withIntermediateDirectories: true)
            let renderer = PlatformRenderer(templates: try ChannelTemplates())
            for url in files(arguments.dropFirst(2)) {
                guard case .publish(let posting)? = try? PostingMessage.decode(try Data(contentsOf: url)) else { continue }
                try renderer.body(for: posting).write(to: URL(fileURLWithPath: out).appendingPathComponent(url.lastPathComponent + ".json"))
            }
        default:
            guard let target = FuzzTarget(rawValue: command) else {
                print("unknown target \(command); one of \(FuzzTarget.allCases.map(\.rawValue))")
                exit(64)
            }
            let urls = files(arguments.dropFirst())
            for url in urls { target.run(try Data(contentsOf: url)) }
            print("\(target.rawValue): \(urls.count) inputs, no failure")
        }
    }
}
#endif
