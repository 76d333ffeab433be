import Foundation

extension JSONValue {
    /// The JSON text of this value with keys sorted and slashes unescaped, byte for byte what `JSONEncoder` with
    /// `[.sortedKeys, .withoutEscapingSlashes]` writes (the content hash depends on it). Written directly when
    /// that is plainly the same (integers, strings without control characters, keys whose order does not
    /// depend on case or digits); anything else goes through `JSONEncoder`.
    public var canonicalData: Data {
        var out: [UInt8] = []
        out.reserveCapacity(1024)
        if Self.writeCanonical(self, into: &out) { return Data(out) }
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        return (try? encoder.encode(self)) ?? Data()
    }

    private static func writeCanonical(_ value: JSONValue, into out: inout [UInt8]) -> Bool {
        switch value {
        case .null: out.append(contentsOf: "null".utf8)
        case .bool(let b): out.append(contentsOf: (b ? "true" : "false").utf8)
        case .number(let n):
            guard let integer = value.integerValue, abs(n) < 9.0e15 else { return false }
            out.append(contentsOf: String(integer).utf8)
        case .string(let s): return writeString(s, into: &out)
        case .array(let items):
            out.append(UInt8(ascii: "["))
            for (index, item) in items.enumerated() {
                if index > 0 { out.append(UInt8(ascii: ",")) }
                guard writeCanonical(item, into: &out) else { return false }
            }
            out.append(UInt8(ascii: "]"))
        case .object(let members):
            let keys = members.keys.sorted { $0.utf8.lexicographicallyPrecedes($1.utf8) }
            // Byte order, case-insensitive order and numeric order must all agree for the output to be JSONEncoder's.
            for key in keys where key.utf8.contains(where: { $0 >= UInt8(ascii: "0") && $0 <= UInt8(ascii: "9") || $0 >= 0x80 }) { return false }
            for (a, b) in zip(keys, keys.dropFirst()) where !a.lowercased().utf8.lexicographicallyPrecedes(b.lowercased().utf8) { return false }
            out.append(UInt8(ascii: "{"))
            for (index, key) in keys.enumerated() {
                if index > 0 { out.append(UInt8(ascii: ",")) }
                guard writeString(key, into: &out) else { return false }
                out.append(UInt8(ascii: ":"))
                guard writeCanonical(members[key]!, into: &out) else { return false }
            }
            out.append(UInt8(ascii: "}"))
        }
        return true
    }

    /// A string with `"` and `\` escaped, and line feeds, carriage returns and tabs as `\n`, `\r`, `\t`; one with
    /// another control character (or U+2028/U+2029) is left to JSONEncoder.
    private static func writeString(_ string: String, into out: inout [UInt8]) -> Bool {
        out.append(UInt8(ascii: "\""))
        var previous: (UInt8, UInt8) = (0, 0)
        for byte in string.utf8 {
            if byte < 0x20 || byte == 0x7F {
                // The three that text really holds are escaped as JSONEncoder does; any other is left to it.
                switch byte {
                case 0x0A: out.append(contentsOf: #"\n"#.utf8)
                case 0x0D: out.append(contentsOf: #"\r"#.utf8)
                case 0x09: out.append(contentsOf: #"\t"#.utf8)
                default: return false
                }
                previous = (previous.1, byte)
                continue
            }
            // E2 80 A8 / E2 80 A9: U+2028 and U+2029, which some encoders escape.
            if previous == (0xE2, 0x80), byte == 0xA8 || byte == 0xA9 { return false }
            if byte == UInt8(ascii: "\"") || byte == UInt8(ascii: "\\") { out.append(UInt8(ascii: "\\")) }
            out.append(byte)
            previous = (previous.1, byte)
        }
        out.append(UInt8(ascii: "\""))
        return true
    }
}
