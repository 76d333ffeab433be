// The Swift AMQP wrapper under the same load as Benchmarks/raw/raw_amqp.c, with no work of its own:
//
//   amqp-benchmark publish URL QUEUE COUNT SIZE WINDOW   -> "publish <count> <seconds>"
//   amqp-benchmark consume URL QUEUE COUNT PREFETCH      -> "consume <count> <seconds>"
//
// Run both through scripts/bench-amqp.sh, which alternates them with the C loop and prints the table.
import AMQP
import Foundation
import Logging

let arguments = CommandLine.arguments
guard arguments.count >= 6, ["publish", "consume"].contains(arguments[1]) else {
    FileHandle.standardError.write(Data("usage: amqp-benchmark publish URL QUEUE COUNT SIZE [WINDOW] | consume URL QUEUE COUNT [PREFETCH]\n".utf8))
    exit(2)
}
let logger = Logger(label: "amqp-benchmark")
let connection = try await AMQPConnection.connect(try AMQPConfiguration(url: arguments[2]), logger: logger)
let channel = try await connection.openChannel()
let queue = arguments[3]
let count = Int(arguments[4])!

switch arguments[1] {
case "publish":
    let size = Int(arguments[5])!
    let window = arguments.count > 6 ? Int(arguments[6])! : 1000
    try await channel.queueDeclare(queue, durable: true)
    try await channel.confirmSelect(window: window)
    let body = Data(repeating: UInt8(ascii: "j"), count: size)
    let start = ContinuousClock.now
    // Batches of a tenth of the window keep the window full while the connection thread sends.
    let batchSize = max(1, window / 10)
    var pending: [PublishConfirmation] = []
    pending.reserveCapacity(count)
    var index = 0
    while index < count {
        let batch = (index..<min(count, index + batchSize)).map { number in
            AMQPOutgoingMessage(body: body, exchange: "", routingKey: queue, properties: .persistentJSON(messageId: "swift-\(number)"))
        }
        pending += try await channel.publish(batch: batch)
        index += batch.count
    }
    for confirmation in pending { try await confirmation.wait() }
    let elapsed = ContinuousClock.now - start
    print("publish \(count) \(Double(elapsed.components.seconds) + Double(elapsed.components.attoseconds) / 1e18)")
default:
    let prefetch = UInt16(arguments[5])!
    try await channel.qos(prefetchCount: prefetch)
    let consumer = try await channel.consume(queue: queue)
    var received = 0
    var start = ContinuousClock.now
    for try await delivery in consumer {
        if received == 0 { start = .now }
        try await channel.ack(delivery.deliveryTag)
        received += 1
        if received == count { break }
    }
    let elapsed = ContinuousClock.now - start
    print("consume \(count) \(Double(elapsed.components.seconds) + Double(elapsed.components.attoseconds) / 1e18)")
}
await connection.close()
