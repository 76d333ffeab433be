import ArgumentParser
import Foundation
import JobCastCore

/// `jobcast publish FILE…`: validate postings from files and publish the valid ones with publisher confirms.
struct PublishCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "publish",
        abstract: "Validate postings from JSON, JSON Lines or CSV files and publish them to the broker.",
        discussion: """
            Postings are validated and published while the input is read; each bad posting is reported as \
            FILE:LINE: /pointer: message on standard error. By default the valid postings are published and the \
            exit status says that some were rejected; --strict reads and validates everything first and publishes \
            nothing when any is bad.

            Postings go to exchange jobcast.postings with routing key posting.<action>, persistent, \
            message_id = the posting id, mandatory, with publisher confirms: a posting counts as published only \
            when the broker confirms it. If the broker is lost, jobcast reconnects (trying each node of \
            JOBCAST_AMQP_URL in turn) and republishes only what was not confirmed. Publishing the same file \
            again is harmless: the workers deliver each posting once.

            CSV: UTF-8 (with or without BOM; --encoding gbk or gb18030 for Chinese Excel's files), a header of dotted field names (id,title,salary.min,…), lists \
            (benefits, targetGroups, sourceCounties) separated by ';'.

            Versions and expiry: every message carries the header x-jobcast-version, the time it was published \
            (milliseconds, increasing within one run), unless its body has updatedAt (RFC 3339), which wins. A worker \
            acknowledges a message older than the newest version it has seen of that posting as superseded, without \
            delivering it. A posting whose validUntil has passed (the end of that day in JOBCAST_POSTING_TIMEZONE, \
            default Asia/Shanghai) is refused with FILE:LINE: /validUntil: expired: …, and the others are published; \
            --dry-run shows the same lines.

            \(ExitCodes.helpText)
            """)

    @Argument(help: ArgumentHelp("Files to publish; - reads standard input.", valueName: "file"))
    var files: [String]

    @Option(help: "json, jsonl or csv (default: from the file extension, or guessed from the content).")
    var format: PostingInputFormat?

    @Option(help: "The files' character encoding: utf-8, gbk or gb18030 (Chinese Excel's CSV). Default utf-8.")
    var encoding: PostingInputEncoding = .utf8

    @Flag(help: "Publish nothing if any posting is invalid.")
    var strict = false

    @Flag(help: "Validate and summarise only; publish nothing.")
    var dryRun = false

    @Option(
        help: ArgumentHelp(
            "The files' dates were written for DAY (YYYY-MM-DD): move every validUntil by the days from DAY to today (in JOBCAST_POSTING_TIMEZONE), so that a sample or rehearsal file stays open on any date.",
            valueName: "day"))
    var datesRelativeTo: String?

    @Option(
        help: ArgumentHelp(
            "Publish every posting of the files at TIME (RFC 3339 with an offset, like 2026-03-02T08:00:00+08:00): sets publishAt; the workers hold them durably until then.",
            valueName: "time"))
    var at: String?

    @OptionGroup var send: SendOptions

    func validate() throws {
        if let day = datesRelativeTo, CalendarDate(day)?.isReal != true {
            throw ValidationError("--dates-relative-to must be a date YYYY-MM-DD, like 2023-04-01; got '\(day)'.")
        }
        if let at, PostingVersion.milliseconds(rfc3339: at) == nil {
            throw ValidationError("--at must be an RFC 3339 time with an offset, like 2026-03-02T08:00:00+08:00; got '\(at)'.")
        }
    }

    func run() async throws {
        let clock: PostingClock
        do {
            clock = try Settings().postingClock
        } catch {
            printError("jobcast: configuration error: \(error)")
            throw ExitCodes.input
        }
        let shift = datesRelativeTo.flatMap(CalendarDate.init).map { clock.today.daysSinceEpoch - $0.daysSinceEpoch } ?? 0
        let inputs = try PostingInputReader.open(files)
        let pipe = ReadBatchPipe()
        var reader = PostingInputReader(inputs: inputs, format: format, encoding: encoding)
        reader.preparer = PostingPreparer(refusingExpiredOn: clock, shiftingDatesBy: shift, publishAt: at)
        reader.start(into: pipe)
        let sizes = inputs.map(\.size)
        let inputBytes = sizes.contains(nil) ? nil : sizes.reduce(0) { $0 + $1! }
        try await PostingSender(options: send, strict: strict, dryRun: dryRun).run(from: pipe, inputBytes: inputBytes)
    }
}

extension PostingInputFormat: ExpressibleByArgument {}
extension PostingInputEncoding: ExpressibleByArgument {}
