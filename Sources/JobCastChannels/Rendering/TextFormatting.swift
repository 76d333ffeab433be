import JobCastCore

/// The wording both channels share: salary, dates, places, and safe cutting of long text.
enum TextFormatting {
    /// `6000–8000元/月`, or `6000元/月` when min equals max.
    static func salary(_ salary: Posting.Salary) -> String {
        salary.min == salary.max ? "\(salary.min)元/月" : "\(salary.min)–\(salary.max)元/月"
    }

    /// `2023年4月30日`; the text unchanged when it is not a `YYYY-MM-DD` date.
    static func chineseDate(_ text: String) -> String {
        guard let date = CalendarDate(text) else { return text }
        return "\(date.year)年\(date.month)月\(date.day)日"
    }

    /// `上海市普陀区中山北路2588号`
    static func place(_ location: Posting.Location) -> String {
        location.city + (location.district ?? "") + (location.address ?? "")
    }

    /// `text` without leading and trailing white space and line breaks (`trimmingCharacters(in:
    /// .whitespacesAndNewlines)` without the round trip through NSString).
    static func trimmed(_ text: String) -> String {
        let scalars = text.unicodeScalars
        guard let first = scalars.firstIndex(where: { !$0.properties.isWhitespace }) else { return "" }
        let last = scalars.lastIndex(where: { !$0.properties.isWhitespace })!
        if first == scalars.startIndex && scalars.index(after: last) == scalars.endIndex { return text }
        return String(scalars[first...last])
    }

    /// Cuts `text` to at most `limit` Unicode scalars, ending in "…" when cut; never splits a character.
    static func truncate(_ text: String, toScalars limit: Int) -> String {
        guard text.unicodeScalars.count > limit else { return text }
        var out = ""
        var used = 0
        for ch in text {
            let n = ch.unicodeScalars.count
            if used + n > limit - 1 { break }
            out.append(ch)
            used += n
        }
        return out + "…"
    }

    /// Cuts `text` to at most `limit` UTF-16 code units (WeChat's conservative character count).
    static func truncate(_ text: String, toUTF16 limit: Int) -> String {
        guard text.utf16.count > limit else { return text }
        var out = ""
        for ch in text {
            if out.utf16.count + ch.utf16.count > limit - 1 { break }
            out.append(ch)
        }
        return out + "…"
    }

    /// Drops control characters (NUL, escape, …, but not tab and line breaks): valid in a JSON string,
    /// never wanted in an article's HTML, title or digest.
    static func withoutControlCharacters(_ text: String) -> String {
        guard text.unicodeScalars.contains(where: isUnwantedControl) else { return text }
        var scalars = String.UnicodeScalarView()
        scalars.append(contentsOf: text.unicodeScalars.filter { !isUnwantedControl($0) })
        return String(scalars)
    }

    private static func isUnwantedControl(_ scalar: Unicode.Scalar) -> Bool {
        scalar.properties.generalCategory == .control && !["\t", "\n", "\r"].contains(scalar)
    }

    /// HTML-escapes text exactly as Mustache's `{{…}}` does, and turns line breaks into `<br/>`.
    static func multilineHTML(_ text: String) -> String {
        var out = ""
        for ch in text {
            switch ch {
            case "<": out += "&lt;"
            case ">": out += "&gt;"
            case "&": out += "&amp;"
            case "\"": out += "&quot;"
            case "'": out += "&#39;"
            case "\n", "\r\n", "\r": out += "<br/>"
            default: out.append(ch)
            }
        }
        return out
    }
}
