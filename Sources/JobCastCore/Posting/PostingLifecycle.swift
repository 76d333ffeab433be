import Foundation
import Synchronization

/// The order of a posting's messages. Every message has a version, in milliseconds since 1970, taken from the
/// first of:
///
/// 1. the body's `updatedAt` (RFC 3339, e.g. `2026-03-01T09:30:00+08:00`), which the producer controls;
/// 2. the AMQP header ``header`` (`x-jobcast-version`): RFC 3339 text or whole milliseconds since 1970. `jobcast
///    publish` stamps it on every message (``Stamp``); any script can set it;
/// 3. the moment a worker first received the message (it stamps that into the header of a retry copy, so that
///    the message keeps its place across retries).
///
/// Per posting and channel the store keeps the newest version seen and whether it was a withdrawal; an older
/// message is `superseded`. At the same version a withdrawal wins (``rank``).
public enum PostingVersion {
    /// The AMQP header that carries a message's version when its body has no `updatedAt`.
    public static let header = "x-jobcast-version"

    /// Where a message's version came from.
    public enum Source: String, Sendable {
        case updatedAt
        case header
        case firstSeen
    }

    /// One number that orders a posting's messages: the version, and a withdrawal after a publish of the same
    /// version (a tie is settled for the withdrawal: taking a job down is the safe side).
    public static func rank(milliseconds: Int64, withdrawal: Bool) -> Int64 {
        milliseconds &* 2 &+ (withdrawal ? 1 : 0)
    }

    /// The milliseconds since 1970 of an RFC 3339 date-time (`YYYY-MM-DDTHH:MM:SS[.fraction](Z|±HH:MM)`), or nil
    /// when `text` is not one (a calendar-checked date, hours 0–23, minutes 0–59, seconds 0–60).
    public static func milliseconds(rfc3339 text: String) -> Int64? {
        let s = Array(text.utf8)
        guard s.count >= 20 else { return nil }
        func digits(_ range: Range<Int>) -> Int? {
            guard range.upperBound <= s.count else { return nil }
            var n = 0
            for c in s[range] {
                guard c >= 48 && c <= 57 else { return nil }
                n = n * 10 + Int(c - 48)
            }
            return n
        }
        guard s[4] == UInt8(ascii: "-"), s[7] == UInt8(ascii: "-"), s[10] == UInt8(ascii: "T") || s[10] == UInt8(ascii: "t"),
            s[13] == UInt8(ascii: ":"), s[16] == UInt8(ascii: ":"),
            let year = digits(0..<4), let month = digits(5..<7), let day = digits(8..<10),
            let hour = digits(11..<13), let minute = digits(14..<16), let second = digits(17..<19),
            CalendarDate(String(decoding: s[0..<10], as: UTF8.self))?.isReal == true,
            hour < 24, minute < 60, second <= 60
        else { return nil }
        var index = 19
        // Milliseconds from the first three digits of the fraction, in integers (a Double sum turns .029 into 28).
        var millis: Int64 = 0
        if index < s.count, s[index] == UInt8(ascii: ".") {
            index += 1
            let start = index
            while index < s.count, s[index] >= 48 && s[index] <= 57 {
                if index - start < 3 { millis = millis * 10 + Int64(s[index] - 48) }
                index += 1
            }
            guard index > start else { return nil }
            for _ in 0..<max(0, 3 - (index - start)) { millis *= 10 }
        }
        guard index < s.count else { return nil }
        var offsetMinutes = 0
        switch s[index] {
        case UInt8(ascii: "Z"), UInt8(ascii: "z"):
            guard index + 1 == s.count else { return nil }
        case UInt8(ascii: "+"), UInt8(ascii: "-"):
            guard index + 6 == s.count, s[index + 3] == UInt8(ascii: ":"), let h = digits(index + 1..<index + 3), let m = digits(index + 4..<index + 6),
                h < 24, m < 60
            else { return nil }
            offsetMinutes = (h * 60 + m) * (s[index] == UInt8(ascii: "-") ? -1 : 1)
        default:
            return nil
        }
        let days = Int64(CalendarDate.daysSinceEpoch(year: year, month: month, day: day))
        let seconds = days * 86_400 + Int64(hour * 3600 + minute * 60 + second) - Int64(offsetMinutes * 60)
        return seconds * 1000 + millis
    }

    /// `2026-03-01T01:30:00.123Z`: how `jobcast publish` writes a version.
    public static func rfc3339(milliseconds: Int64) -> String {
        let seconds = milliseconds.quotientAndRemainder(dividingBy: 1000)
        var whole = seconds.quotient
        var millis = seconds.remainder
        if millis < 0 {
            whole -= 1
            millis += 1000
        }
        let (days, secondOfDay) = whole.quotientAndRemainder(dividingBy: 86_400)
        let (dayNumber, second) = secondOfDay < 0 ? (days - 1, secondOfDay + 86_400) : (days, secondOfDay)
        let date = CalendarDate(daysSinceEpoch: Int(dayNumber))
        return String(
            format: "%04d-%02d-%02dT%02d:%02d:%02d.%03dZ", date.year, date.month, date.day, Int(second / 3600), Int(second / 60 % 60), Int(second % 60),
            Int(millis))
    }

    /// A header value as a version: RFC 3339 text, or whole milliseconds since 1970 (as text or an integer type).
    public static func milliseconds(headerText text: String) -> Int64? {
        if let value = Int64(text), value > 0 { return value }
        return milliseconds(rfc3339: text)
    }

    /// Versions `jobcast publish` stamps: the time of publishing in milliseconds, strictly increasing within the
    /// process, so that two messages about one posting in one file keep the file's order.
    public final class Stamp: Sendable {
        private let last = Mutex<Int64>(0)

        public init() {}

        public func next(now: Date = Date()) -> Int64 {
            let millis = Int64((now.timeIntervalSince1970 * 1000).rounded(.down))
            return last.withLock { last in
                last = max(millis, last + 1)
                return last
            }
        }
    }
}

/// When postings close, and what "now" is for that: `validUntil` is the last day a posting is open, so it closes
/// at the end of that day in ``timeZone`` (`JOBCAST_POSTING_TIMEZONE`, default Asia/Shanghai). ``now`` is the
/// system clock unless `JOBCAST_NOW` moves it (tests, rehearsals).
public struct PostingClock: Sendable {
    public static let defaultTimeZone = "Asia/Shanghai"

    public var timeZone: TimeZone
    /// A fixed "now" instead of the system clock (`JOBCAST_NOW`).
    public var fixedNow: Date?

    public init(timeZone: TimeZone = TimeZone(identifier: PostingClock.defaultTimeZone)!, fixedNow: Date? = nil) {
        self.timeZone = timeZone
        self.fixedNow = fixedNow
    }

    public var now: Date { fixedNow ?? Date() }

    /// `JOBCAST_POSTING_TIMEZONE` and `JOBCAST_NOW`, through the checked readers.
    public init(reader: EnvironmentReader) throws(SettingsError) {
        self.init(
            timeZone: try reader.timeZone("JOBCAST_POSTING_TIMEZONE") ?? TimeZone(identifier: PostingClock.defaultTimeZone)!,
            fixedNow: try reader.instant("JOBCAST_NOW"))
    }

    /// `NAME=value` lines for `--print-config`.
    public var lines: [String] {
        [
            "JOBCAST_POSTING_TIMEZONE=\(timeZone.identifier)",
            "JOBCAST_NOW=\(fixedNow.map { PostingVersion.rfc3339(milliseconds: Int64(($0.timeIntervalSince1970 * 1000).rounded())) } ?? "(the system clock)")",
        ]
    }

    /// The instant a posting open until `validUntil` closes: the next day's midnight in ``timeZone``.
    public func closes(_ validUntil: CalendarDate) -> Date {
        var calendar = Calendar(identifier: .gregorian)
        calendar.timeZone = timeZone
        let start = calendar.date(from: DateComponents(year: validUntil.year, month: validUntil.month, day: validUntil.day)) ?? .distantFuture
        return calendar.date(byAdding: .day, value: 1, to: start) ?? .distantFuture
    }

    /// Whether a posting with this `validUntil` has closed at ``now`` (a date that does not parse never has).
    public func hasExpired(validUntil: String) -> Bool {
        guard let date = CalendarDate(validUntil) else { return false }
        return now >= closes(date)
    }

    /// The day it is at ``now`` in ``timeZone``.
    public var today: CalendarDate {
        var calendar = Calendar(identifier: .gregorian)
        calendar.timeZone = timeZone
        let c = calendar.dateComponents([.year, .month, .day], from: now)
        return CalendarDate(year: c.year!, month: c.month!, day: c.day!)
    }

    /// The sentence that says why a posting is refused: what closed, when, and what to do.
    public func expiryMessage(validUntil: String) -> String {
        "the posting closed at the end of \(validUntil) (\(timeZone.identifier)), before now (\(PostingVersion.rfc3339(milliseconds: Int64(now.timeIntervalSince1970 * 1000)))): "
            + "it is not published; give it a validUntil of today or later, or leave it out"
    }
}

extension CalendarDate {
    public init(year: Int, month: Int, day: Int) {
        self.year = year
        self.month = month
        self.day = day
    }

    /// Days from 1970-01-01 to this date (proleptic Gregorian; Howard Hinnant's days_from_civil).
    static func daysSinceEpoch(year: Int, month: Int, day: Int) -> Int {
        let y = month <= 2 ? year - 1 : year
        let era = (y >= 0 ? y : y - 399) / 400
        let yoe = y - era * 400
        let mp = (month + 9) % 12
        let doy = (153 * mp + 2) / 5 + day - 1
        let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy
        return era * 146_097 + doe - 719_468
    }

    public var daysSinceEpoch: Int { Self.daysSinceEpoch(year: year, month: month, day: day) }

    /// The date `days` after 1970-01-01 (civil_from_days).
    public init(daysSinceEpoch days: Int) {
        let z = days + 719_468
        let era = (z >= 0 ? z : z - 146_096) / 146_097
        let doe = z - era * 146_097
        let yoe = (doe - doe / 1460 + doe / 36524 - doe / 146_096) / 365
        let doy = doe - (365 * yoe + yoe / 4 - yoe / 100)
        let mp = (5 * doy + 2) / 153
        let d = doy - (153 * mp + 2) / 5 + 1
        let m = mp < 10 ? mp + 3 : mp - 9
        self.init(year: yoe + era * 400 + (m <= 2 ? 1 : 0), month: m, day: d)
    }

    /// This date moved by `days`.
    public func adding(days: Int) -> CalendarDate { CalendarDate(daysSinceEpoch: daysSinceEpoch + days) }

    /// `YYYY-MM-DD`.
    public var text: String { String(format: "%04d-%02d-%02d", year, month, day) }
}
