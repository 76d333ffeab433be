import JobCastCore
import Testing

@Suite("Phone numbers masked for logs")
struct PhoneMaskingTests {
    @Test(
        "phone numbers keep their first three and last four digits",
        arguments: [
            ("13917654321", "139****4321"),
            ("contact 13917654321 is not reachable", "contact 139****4321 is not reachable"),
            ("电话13917654321。", "电话139****4321。"),
            ("021-52561288", "021-****1288"),
            ("(0871) 6313 0000", "(087*) **** 0000"),
            ("0871-63130000", "087*-****0000"),
            ("+86 139 1765 4321", "+86 1** **** 4321"),
            ("/contact/phone: must be string, got integer 13917654321", "/contact/phone: must be string, got integer 139****4321"),
            ("on 2023-04-30 13917654321", "on 2023-04-30 139****4321"),
        ])
    func masked(_ input: String, _ expected: String) {
        #expect(PhoneMasking.mask(input) == expected)
    }

    @Test(
        "other numbers are left alone",
        arguments: [
            "too_large: 2097152 bytes, the limit is 1048576 (JOBCAST_MAX_MESSAGE_BYTES)",
            "http 500 after 1500 ms", "publish_id 224712", "2023-04-30", "hash a13917654321b", "id chaos-000123",
            "timestamp 1732861234567", "putuo-2023-spring-01-1",
        ])
    func untouched(_ input: String) {
        #expect(PhoneMasking.mask(input) == input)
    }
}
