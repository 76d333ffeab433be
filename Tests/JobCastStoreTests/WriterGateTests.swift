import Foundation
import Synchronization
import Testing

@testable import JobCastStore

@Suite("SQLite writer gate")
struct WriterGateTests {
    @Test("one writer at a time; when it leaves, an urgent writer goes before those already waiting, then first come first served")
    func urgentFirst() async throws {
        let gate = WriterGate()
        final class Order: Sendable { let items = Mutex<[String]>([]) }
        let box = Order()
        await gate.enter()
        let normal1 = Task {
            await gate.enter()
            box.items.withLock { $0.append("normal-1") }
            gate.leave()
        }
        try await Task.sleep(for: .milliseconds(50))
        let normal2 = Task {
            await gate.enter()
            box.items.withLock { $0.append("normal-2") }
            gate.leave()
        }
        try await Task.sleep(for: .milliseconds(50))
        let urgent = Task {
            await gate.enter(urgent: true)
            box.items.withLock { $0.append("urgent") }
            gate.leave()
        }
        try await Task.sleep(for: .milliseconds(50))
        #expect(box.items.withLock { $0 }.isEmpty, "someone entered while the gate was held")
        gate.leave()
        _ = await (normal1.value, normal2.value, urgent.value)
        #expect(box.items.withLock { $0 } == ["urgent", "normal-1", "normal-2"])
    }
}
