/// A `YYYY-MM-DD` date as the wire contract writes it, without time zones.
public struct CalendarDate: Sendable, Hashable, Comparable {
    public let year: Int
    public let month: Int
    public let day: Int

    /// Parses exactly four digits, `-`, two digits, `-`, two digits (ASCII). Does not check the calendar.
    public init?(_ text: String) {
        let s = Array(text.unicodeScalars)
        guard s.count == 10, s[4] == "-", s[7] == "-" else { return nil }
        func number(_ range: Range<Int>) -> Int? {
            var n = 0
            for c in s[range] {
                guard ("0"..."9").contains(c) else { return nil }
                n = n * 10 + Int(c.value - 48)
            }
            return n
        }
        guard let y = number(0..<4), let m = number(5..<7), let d = number(8..<10) else { return nil }
        (year, month, day) = (y, m, d)
    }

    /// True when the month exists and the day exists in that month (leap years included).
    public var isReal: Bool {
        guard (1...12).contains(month), year >= 1 else { return false }
        let leap = year % 4 == 0 && (year % 100 != 0 || year % 400 == 0)
        let days = [31, leap ? 29 : 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31][month - 1]
        return (1...days).contains(day)
    }

    public static func < (a: CalendarDate, b: CalendarDate) -> Bool {
        (a.year, a.month, a.day) < (b.year, b.month, b.day)
    }
}
