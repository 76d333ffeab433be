import Foundation
import JobCastCore
import JobCastTestSupport
import Testing

/// The committed samples are the seed's spring job fair: 38 employers, 49,228 positions, in three formats.
@Suite struct SampleDataTests {
    @Test func jsonSampleAddsUpToTheFair() throws {
        let postings = try SampleData.postings()
        #expect(Set(postings.map(\.employer.name)).count == SampleData.employers)
        #expect(postings.reduce(0) { $0 + $1.headcount } == SampleData.positions)
        #expect(Set(postings.map(\.id)).count == postings.count, "ids are unique")
        #expect(postings.allSatisfy { $0.salary.min <= $0.salary.max })
        let industries = Set(postings.map(\.industry))
        #expect(industries.isSuperset(of: ["餐饮", "物业管理", "交通安全"]))
    }

    @Test func jsonLinesHoldTheSamePostings() throws {
        let lines = String(decoding: try RepositoryPaths.data("Samples/spring-job-fair.jsonl"), as: UTF8.self)
            .split(separator: "\n")
        let fromLines = try lines.map { try JSONValue(data: Data($0.utf8)) }
        #expect(fromLines == (try SampleData.jsonValues()))
    }

    @Test func csvHoldsTheSamePostings() throws {
        let rows = CSV.parse(String(decoding: try RepositoryPaths.data("Samples/spring-job-fair.csv"), as: UTF8.self))
        let header = try #require(rows.first)
        #expect(header == [
            "id", "action", "employer.name", "employer.creditCode", "title", "industry", "headcount", "salary.min",
            "salary.max", "location.city", "location.district", "location.address", "contact.name", "contact.phone",
            "validUntil", "requirements", "benefits", "training", "targetGroups", "sourceCounties", "program",
        ])
        let postings = try SampleData.postings()
        #expect(rows.count - 1 == postings.count)
        var positions = 0
        var employers: Set<String> = []
        for (row, p) in zip(rows.dropFirst(), postings) {
            let field = Dictionary(uniqueKeysWithValues: zip(header, row))
            #expect(field["id"] == p.id)
            #expect(field["employer.name"] == p.employer.name)
            #expect(field["headcount"] == String(p.headcount))
            #expect(field["salary.min"] == String(p.salary.min))
            #expect(field["validUntil"] == p.validUntil)
            #expect(field["benefits"]?.split(separator: ";").map(String.init) == p.benefits)
            #expect(field["sourceCounties"]?.split(separator: ";").map(String.init) == p.sourceCounties)
            positions += Int(field["headcount"] ?? "") ?? 0
            employers.insert(field["employer.name"] ?? "")
        }
        #expect(positions == SampleData.positions)
        #expect(employers.count == SampleData.employers)
    }
}

/// Just enough RFC 4180 to read the sample back (the real CSV reader is the producer's, not this).
enum CSV {
    static func parse(_ text: String) -> [[String]] {
        var rows: [[String]] = []
        var row: [String] = []
        var field = ""
        var quoted = false
        var chars = text.makeIterator()
        var pending: Character? = nil
        while let c = pending ?? chars.next() {
            pending = nil
            if quoted {
                if c == "\"" {
                    if let next = chars.next() {
                        if next == "\"" { field.append("\"") } else { quoted = false; pending = next }
                    } else { quoted = false }
                } else { field.append(c) }
            } else if c == "\"" {
                quoted = true
            } else if c == "," {
                row.append(field); field = ""
            } else if c == "\n" || c == "\r\n" {
                row.append(field); rows.append(row); row = []; field = ""
            } else {
                field.append(c)
            }
        }
        if !field.isEmpty || !row.isEmpty { row.append(field); rows.append(row) }
        return rows
    }
}
