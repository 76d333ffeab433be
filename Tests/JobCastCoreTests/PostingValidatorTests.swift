import Foundation
import JobCastCore
import JobCastTestSupport
import PropertyBased
import Testing

@Suite struct PostingValidatorTests {
    static let minimal: JSONValue = [
        "id": "putuo-2023-0001",
        "employer": ["name": "上海真如物业管理有限公司"],
        "title": "住宅小区保洁员",
        "industry": "物业管理",
        "headcount": 30,
        "salary": ["min": 4700, "max": 5600],
        "location": ["city": "上海市"],
        "contact": ["phone": "021-52648815"],
        "validUntil": "2023-06-30",
    ]

    static func with(_ key: String, _ value: JSONValue?) -> JSONValue {
        guard case .object(var o) = minimal else { return minimal }
        o[key] = value
        return .object(o)
    }

    @Test func salaryOrderIsReportedInPlainWords() {
        let issues = PostingValidator().validate(Self.with("salary", ["min": 9000, "max": 8000]))
        #expect(issues.map(\.description) == ["/salary/min: 9000 is above /salary/max 8000"])
        #expect(issues.first?.rule == .salaryOrder)
    }

    @Test func everyViolationIsReportedAtOnce() {
        guard case .object(var o) = Self.minimal else { return }
        o["title"] = nil
        o["headcount"] = 0
        o["validUntil"] = "2023-02-30"
        o["benefits"] = ["包吃包住", 5, ""]
        o["contact"] = ["phone": "call me"]
        let pointers = PostingValidator().validate(.object(o)).map(\.pointer.description)
        #expect(Set(pointers) == ["/title", "/headcount", "/validUntil", "/benefits/1", "/benefits/2", "/contact/phone"])
    }

    @Test func withdrawalNeedsOnlyIDAndAction() throws {
        #expect(PostingValidator().validate(["id": "a-1", "action": "withdraw"]) == [])
        #expect(PostingValidator().validate(["action": "withdraw"]).map(\.description) == ["/id: is required"])
        let message = try PostingMessage.decode(Data(#"{"id":"a-1","action":"withdraw"}"#.utf8))
        #expect(message == .withdraw(Withdrawal(id: "a-1")))
    }

    @Test func notJSONIsItsOwnCode() {
        let error = #expect(throws: PostingValidationError.self) { try PostingMessage.decode(Data("{\"id\":".utf8)) }
        #expect(error?.code == .notJSON)
    }

    @Test func decodesEveryField() throws {
        let data = try RepositoryPaths.data("Schemas/examples/valid/full-posting.json")
        guard case .publish(let p) = try PostingMessage.decode(data) else { Issue.record("not a posting"); return }
        #expect(p.id == "putuo-2023-spring-01-1")
        #expect(p.employer.name == "上海博海餐饮集团有限公司")
        #expect(p.salary == .init(min: 5500, max: 7000))
        #expect(p.location.district == "普陀区")
        #expect(p.benefits == ["包吃包住", "五险一金", "月休4天"])
        #expect(p.sourceCounties?.isEmpty == false)
    }

    @Test(arguments: [
        ("2024-02-29", true), ("2023-02-29", false), ("1900-02-29", false), ("2000-02-29", true), ("2023-04-31", false),
        ("2023-12-31", true), ("2023-00-01", false), ("0000-01-01", false), ("2023-4-30", false), ("２０２３-04-30", false),
    ])
    func calendarDates(_ text: String, _ valid: Bool) {
        #expect(PostingValidator().validate(Self.with("validUntil", .string(text))).isEmpty == valid)
    }

    @Test func lengthsCountUnicodeCodePointsAsJSONSchemaDoes() {
        // 👨‍👩‍👧 is one character on screen but five code points.
        let family = "👨‍👩‍👧"
        let fits = String(repeating: family, count: 12) + "abcd"  // 64 code points
        #expect(PostingValidator().validate(Self.with("title", .string(fits))) == [])
        let tooLong = fits + "e"
        #expect(PostingValidator().validate(Self.with("title", .string(tooLong))).map(\.rule) == [.maxLength])
    }

    @Test func headcountBoundsHoldForAnyInteger() async {
        await propertyCheck(input: Gen.int(in: -1000...200_000)) { n in
            let valid = PostingValidator().validate(Self.with("headcount", .number(Double(n)))).isEmpty
            #expect(valid == (1...100_000).contains(n))
        }
    }

    @Test func salaryOrderHoldsForAnyPair() async {
        await propertyCheck(input: Gen.int(in: 0...20_000), Gen.int(in: 0...20_000)) { lo, hi in
            let issues = PostingValidator().validate(Self.with("salary", ["min": .number(Double(lo)), "max": .number(Double(hi))]))
            #expect(issues.isEmpty == (lo <= hi))
        }
    }
}
