/// Masks phone numbers in text bound for a log: a mainland mobile number (11 digits starting with 1),
/// a number with an area code (10–12 digits starting with 0) or an international one (+ and 8–15
/// digits) keeps its first three and last four digits (`139****4321`, `021-****1288`); separators
/// (space, -, parentheses) stay. Other numbers (sizes, ids, timestamps) are left alone.
public enum PhoneMasking {
    public static func mask(_ text: String) -> String {
        guard text.utf8.contains(where: { $0 >= 0x30 && $0 <= 0x39 }) else { return text }
        let characters = Array(text)
        var out = ""
        out.reserveCapacity(text.utf8.count)
        var index = 0
        while index < characters.count {
            let character = characters[index]
            let startsNumber = character.isASCII && (character.isNumber || character == "+" || character == "(")
            let afterBoundary = index == 0 || !isASCIIAlphanumeric(characters[index - 1])
            guard startsNumber, afterBoundary else {
                out.append(character)
                index += 1
                continue
            }
            // The run: digits, with up to two separators (space, -, parentheses) between them.
            var end = index + 1
            while end < characters.count {
                if isDigit(characters[end]) {
                    end += 1
                    continue
                }
                var next = end
                while next < characters.count, next - end < 2, [" ", "-", "(", ")"].contains(characters[next]) { next += 1 }
                guard next > end, next < characters.count, isDigit(characters[next]) else { break }
                end = next
            }
            // A closing parenthesis right after the digits belongs to the number.
            if end < characters.count, characters[end] == ")", characters[index..<end].contains("(") { end += 1 }
            let run = characters[index..<end]
            let digits = run.filter { $0.isASCII && $0.isNumber }
            let beforeBoundary = end == characters.count || !isASCIIAlphanumeric(characters[end])
            if beforeBoundary, isPhone(digits: digits, international: character == "+") {
                var seen = 0
                for item in run {
                    if item.isASCII && item.isNumber {
                        seen += 1
                        out.append(seen <= 3 || seen > digits.count - 4 ? item : "*")
                    } else {
                        out.append(item)
                    }
                }
            } else if run.contains(" ") {
                // "2023-04-30 13917654321": the pieces on their own.
                out += run.split(separator: " ", omittingEmptySubsequences: false).map { mask(String($0)) }.joined(separator: " ")
            } else {
                out.append(contentsOf: run)
            }
            index = end
        }
        return out
    }

    private static func isPhone(digits: [Character], international: Bool) -> Bool {
        if international { return (8...15).contains(digits.count) }
        guard let first = digits.first else { return false }
        if first == "1" { return digits.count == 11 }
        if first == "0" { return (10...12).contains(digits.count) }
        return false
    }

    private static func isDigit(_ character: Character) -> Bool { character.isASCII && character.isNumber }

    private static func isASCIIAlphanumeric(_ character: Character) -> Bool {
        character.isASCII && (character.isLetter || character.isNumber)
    }
}
