import Foundation
import JobCastCore

#if canImport(Glibc)
import Glibc
#endif

/// Reads `jobcast publish`'s input files in order, chunk by chunk, on a thread of its own: each chunk is
/// parsed (``PostingStreamReader``), validated and encoded (``PostingPreparer``), and handed to the publisher
/// through a ``ReadBatchPipe`` while the next one is read. Standard input is read as it arrives, so a slow
/// producer piping postings in sees them published one chunk at a time.
struct PostingInputReader: Sendable {
    /// One opened input: `-` is standard input; `size` is known for a regular file.
    struct Input: Sendable {
        var name: String
        var descriptor: Int32
        var size: Int?
    }

    let inputs: [Input]
    let format: PostingInputFormat?
    /// What the inputs are written in; anything but UTF-8 is converted (a whole file at a time) before it is read.
    var encoding: PostingInputEncoding = .utf8
    /// The least read at once; more while a record longer than that is pending.
    var chunkSize = 256 * 1024
    /// Refuses expired postings and moves dates (``PostingPreparer``): a fresh copy is used for each run.
    var preparer = PostingPreparer()

    /// Opens every file before anything is read or sent, so that a missing or unreadable one is exit status 2
    /// with nothing published.
    static func open(_ files: [String]) throws -> [Input] {
        try files.map { file in
            if file == "-" { return Input(name: file, descriptor: STDIN_FILENO, size: nil) }
            let descriptor = Glibc.open(file, O_RDONLY | O_CLOEXEC)
            var info = stat()
            guard descriptor >= 0, fstat(descriptor, &info) == 0 else {
                printError("\(file): cannot read the file: \(String(cString: strerror(errno)))")
                throw ExitCodes.input
            }
            if (info.st_mode & S_IFMT) == S_IFDIR {
                printError("\(file): cannot read the file: it is a directory")
                throw ExitCodes.input
            }
            return Input(name: file, descriptor: descriptor, size: (info.st_mode & S_IFMT) == S_IFREG ? Int(info.st_size) : nil)
        }
    }

    /// Starts the reading thread; it finishes `pipe` at the end of the last input (or at one it cannot read).
    func start(into pipe: ReadBatchPipe) {
        let thread = Thread { readAll(into: pipe) }
        thread.name = "jobcast-read"
        thread.stackSize = 8 << 20  // as a main thread has: deeply nested hostile input recurses in the JSON parsers
        thread.start()
    }

    func readAll(into pipe: ReadBatchPipe) {
        defer { pipe.finish() }
        var preparer = self.preparer
        var buffer = [UInt8](repeating: 0, count: chunkSize)
        for input in inputs {
            defer { if input.descriptor != STDIN_FILENO { close(input.descriptor) } }
            var reader = PostingStreamReader(source: input.name, format: format ?? PostingInputFormat.guess(fromPath: input.name))
            if input.size != nil || encoding != .utf8 {
                // A file (or text to convert) is checked whole before any of it becomes postings: a GBK file read
                // as UTF-8 is one problem at its first bad line, not postings full of U+FFFD. It is still handed
                // over chunk by chunk, so publishing starts while the rest is parsed.
                guard let data = Self.readWhole(input, into: pipe) else { return }
                switch encoding.utf8Bytes(data, source: input.name) {
                case .failure(let problem):
                    pipe.send(Self.prepare(PostingReadResult(problems: [problem]), bytes: data.count, with: &preparer))
                case .success(let bytes):
                    var start = 0
                    repeat {
                        let end = min(start + chunkSize, bytes.count)
                        let result = end == bytes.count ? Self.merge(reader.feed(bytes[start..<end]), reader.finish()) : reader.feed(bytes[start..<end])
                        pipe.send(Self.prepare(result, bytes: end - start, with: &preparer))
                        start = end
                    } while start < bytes.count
                }
                continue
            }
            var validator = UTF8StreamValidator()
            while true {
                let want = max(chunkSize, reader.pendingCount)
                if buffer.count < want { buffer = [UInt8](repeating: 0, count: want) }
                let count = buffer.withUnsafeMutableBytes { read(input.descriptor, $0.baseAddress, want) }
                if count < 0 {
                    if errno == EINTR { continue }
                    var batch = ReadBatch()
                    batch.inputError = "\(input.name): cannot read the file: \(String(cString: strerror(errno)))"
                    pipe.send(batch)
                    return
                }
                if let problem = validator.check(buffer[..<count], final: count == 0, source: input.name) {
                    pipe.send(Self.prepare(PostingReadResult(problems: [problem]), bytes: count, with: &preparer))
                    break
                }
                let result = count == 0 ? reader.finish() : reader.feed(buffer[..<count])
                pipe.send(Self.prepare(result, bytes: count, with: &preparer))
                if count == 0 { break }
            }
        }
    }

    /// All of `input`, or nil (after telling the pipe) when it cannot be read.
    static func readWhole(_ input: Input, into pipe: ReadBatchPipe) -> Data? {
        var data = Data()
        if let size = input.size { data.reserveCapacity(size) }
        var buffer = [UInt8](repeating: 0, count: 1 << 20)
        while true {
            let count = buffer.withUnsafeMutableBytes { read(input.descriptor, $0.baseAddress, $0.count) }
            if count < 0 {
                if errno == EINTR { continue }
                var batch = ReadBatch()
                batch.inputError = "\(input.name): cannot read the file: \(String(cString: strerror(errno)))"
                pipe.send(batch)
                return nil
            }
            if count == 0 { return data }
            data.append(contentsOf: buffer[..<count])
        }
    }

    static func merge(_ a: PostingReadResult, _ b: PostingReadResult) -> PostingReadResult {
        var result = a
        result.records += b.records
        result.problems += b.problems
        return result
    }

    /// Validates and encodes what one chunk completed; the problems of reading and of validation in line order.
    static func prepare(_ result: PostingReadResult, bytes: Int, with preparer: inout PostingPreparer) -> ReadBatch {
        var batch = ReadBatch(problems: result.problems, bytes: bytes)
        batch.postings.reserveCapacity(result.records.count)
        for record in result.records {
            switch preparer.prepare(record) {
            case .success(let posting): batch.postings.append(posting)
            case .failure(let rejection): batch.problems += rejection.problems
            }
        }
        // As before streaming: records read, plus those that could not be read (a problem with no pointer).
        batch.records = result.records.count + batch.problems.filter { $0.pointer == nil }.count
        if batch.problems.count > 1 { batch.problems.sort { $0.line < $1.line } }
        return batch
    }
}
