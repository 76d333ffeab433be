import CRabbitMQ
import Foundation

/// Memory for one call into rabbitmq-c: every C string, byte buffer and table made here lives until the
/// arena is released. Used only on a connection's own thread.
final class CArena {
    private var allocations: [UnsafeMutableRawPointer] = []

    deinit {
        for pointer in allocations { free(pointer) }
    }

    private func allocate(_ size: Int) -> UnsafeMutableRawPointer {
        let pointer = malloc(max(size, 1))!
        allocations.append(pointer)
        return pointer
    }

    func bytes(_ string: String) -> amqp_bytes_t {
        bytes(Array(string.utf8))
    }

    func bytes(_ data: some Collection<UInt8>) -> amqp_bytes_t {
        let count = data.count
        let pointer = allocate(count)
        let buffer = UnsafeMutableRawBufferPointer(start: pointer, count: count)
        buffer.copyBytes(from: data)
        return amqp_bytes_t(len: count, bytes: pointer)
    }

    func cString(_ string: String) -> UnsafePointer<CChar> {
        let utf8 = Array(string.utf8CString)
        let pointer = allocate(utf8.count).bindMemory(to: CChar.self, capacity: utf8.count)
        pointer.initialize(from: utf8, count: utf8.count)
        return UnsafePointer(pointer)
    }

    func table(_ table: AMQPTable?) -> amqp_table_t {
        guard let table, !table.isEmpty else { return amqp_table_t(num_entries: 0, entries: nil) }
        let entries = allocate(MemoryLayout<amqp_table_entry_t>.stride * table.count)
            .bindMemory(to: amqp_table_entry_t.self, capacity: table.count)
        for (index, (key, value)) in table.sorted(by: { $0.key < $1.key }).enumerated() {
            (entries + index).initialize(to: amqp_table_entry_t(key: bytes(key), value: field(value)))
        }
        return amqp_table_t(num_entries: Int32(table.count), entries: entries)
    }

    func field(_ value: AMQPFieldValue) -> amqp_field_value_t {
        var field = amqp_field_value_t()
        func kind(_ c: Character) { field.kind = c.asciiValue! }
        switch value {
        case .bool(let v): kind("t"); field.value.boolean = v ? 1 : 0
        case .int8(let v): kind("b"); field.value.i8 = v
        case .uint8(let v): kind("B"); field.value.u8 = v
        case .int16(let v): kind("s"); field.value.i16 = v
        case .uint16(let v): kind("u"); field.value.u16 = v
        case .int32(let v): kind("I"); field.value.i32 = v
        case .uint32(let v): kind("i"); field.value.u32 = v
        case .int64(let v): kind("l"); field.value.i64 = v
        case .uint64(let v): kind("L"); field.value.u64 = v
        case .float(let v): kind("f"); field.value.f32 = v
        case .double(let v): kind("d"); field.value.f64 = v
        case .decimal(let scale, let v): kind("D"); field.value.decimal = amqp_decimal_t(decimals: scale, value: v)
        case .string(let s): kind("S"); field.value.bytes = bytes(s)
        case .bytes(let b): kind("x"); field.value.bytes = bytes(b)
        case .timestamp(let v): kind("T"); field.value.u64 = v
        case .void: kind("V")
        case .table(let t): kind("F"); field.value.table = table(t)
        case .array(let items):
            kind("A")
            let entries = allocate(MemoryLayout<amqp_field_value_t>.stride * max(items.count, 1))
                .bindMemory(to: amqp_field_value_t.self, capacity: max(items.count, 1))
            for (index, item) in items.enumerated() { (entries + index).initialize(to: self.field(item)) }
            field.value.array = amqp_array_t(num_entries: Int32(items.count), entries: items.isEmpty ? nil : entries)
        }
        return field
    }

    func properties(_ p: AMQPProperties) -> amqp_basic_properties_t {
        var c = amqp_basic_properties_t()
        var flags: amqp_flags_t = 0
        if let v = p.contentType { c.content_type = bytes(v); flags |= jc_flag_content_type() }
        if let v = p.contentEncoding { c.content_encoding = bytes(v); flags |= jc_flag_content_encoding() }
        if let v = p.headers { c.headers = table(v); flags |= jc_flag_headers() }
        if let v = p.deliveryMode { c.delivery_mode = v.rawValue; flags |= jc_flag_delivery_mode() }
        if let v = p.priority { c.priority = v; flags |= jc_flag_priority() }
        if let v = p.correlationId { c.correlation_id = bytes(v); flags |= jc_flag_correlation_id() }
        if let v = p.replyTo { c.reply_to = bytes(v); flags |= jc_flag_reply_to() }
        if let v = p.expiration { c.expiration = bytes(v); flags |= jc_flag_expiration() }
        if let v = p.messageId { c.message_id = bytes(v); flags |= jc_flag_message_id() }
        if let v = p.timestamp { c.timestamp = v; flags |= jc_flag_timestamp() }
        if let v = p.type { c.type = bytes(v); flags |= jc_flag_type() }
        if let v = p.userId { c.user_id = bytes(v); flags |= jc_flag_user_id() }
        if let v = p.appId { c.app_id = bytes(v); flags |= jc_flag_app_id() }
        c._flags = flags
        return c
    }
}

// MARK: - From C

extension amqp_bytes_t {
    var array: [UInt8] {
        guard len > 0, let bytes else { return [] }
        return Array(UnsafeRawBufferPointer(start: bytes, count: len))
    }

    var data: Data {
        guard len > 0, let bytes else { return Data() }
        return Data(bytes: bytes, count: len)
    }

    var string: String {
        String(decoding: array, as: UTF8.self)
    }
}

extension AMQPFieldValue {
    init(_ c: amqp_field_value_t) {
        switch Character(Unicode.Scalar(c.kind)) {
        case "t": self = .bool(c.value.boolean != 0)
        case "b": self = .int8(c.value.i8)
        case "B": self = .uint8(c.value.u8)
        case "s": self = .int16(c.value.i16)
        case "u": self = .uint16(c.value.u16)
        case "I": self = .int32(c.value.i32)
        case "i": self = .uint32(c.value.u32)
        case "l": self = .int64(c.value.i64)
        case "L": self = .uint64(c.value.u64)
        case "f": self = .float(c.value.f32)
        case "d": self = .double(c.value.f64)
        case "D": self = .decimal(scale: c.value.decimal.decimals, value: c.value.decimal.value)
        case "S":
            let raw = c.value.bytes.array
            if let text = String(validating: raw, as: UTF8.self) { self = .string(text) } else { self = .bytes(raw) }
        case "x": self = .bytes(c.value.bytes.array)
        case "T": self = .timestamp(c.value.u64)
        case "F": self = .table(AMQPTable(c.value.table))
        case "A":
            let array = c.value.array
            var items: [AMQPFieldValue] = []
            if let entries = array.entries {
                for index in 0..<Int(array.num_entries) { items.append(AMQPFieldValue(entries[index])) }
            }
            self = .array(items)
        default: self = .void
        }
    }
}

extension AMQPTable {
    init(_ c: amqp_table_t) {
        self.init()
        guard let entries = c.entries else { return }
        for index in 0..<Int(c.num_entries) {
            let entry = entries[index]
            self[entry.key.string] = AMQPFieldValue(entry.value)
        }
    }
}

extension AMQPProperties {
    init(_ c: amqp_basic_properties_t) {
        let flags = c._flags
        func has(_ flag: amqp_flags_t) -> Bool { flags & flag != 0 }
        self.init()
        if has(jc_flag_content_type()) { contentType = c.content_type.string }
        if has(jc_flag_content_encoding()) { contentEncoding = c.content_encoding.string }
        if has(jc_flag_headers()) { headers = AMQPTable(c.headers) }
        if has(jc_flag_delivery_mode()) { deliveryMode = DeliveryMode(rawValue: c.delivery_mode) }
        if has(jc_flag_priority()) { priority = c.priority }
        if has(jc_flag_correlation_id()) { correlationId = c.correlation_id.string }
        if has(jc_flag_reply_to()) { replyTo = c.reply_to.string }
        if has(jc_flag_expiration()) { expiration = c.expiration.string }
        if has(jc_flag_message_id()) { messageId = c.message_id.string }
        if has(jc_flag_timestamp()) { timestamp = c.timestamp }
        if has(jc_flag_type()) { type = c.type.string }
        if has(jc_flag_user_id()) { userId = c.user_id.string }
        if has(jc_flag_app_id()) { appId = c.app_id.string }
    }
}

func libraryErrorText(_ status: Int32) -> String {
    String(cString: amqp_error_string2(status))
}
