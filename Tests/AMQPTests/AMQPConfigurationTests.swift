import AMQP
import Testing

@Suite("Broker URLs")
struct AMQPConfigurationTests {
    @Test func defaultsAndPercentEncodedVhost() throws {
        let config = try AMQPConfiguration(url: "amqp://guest:guest@127.0.0.1:5672/%2F")
        #expect(config.host == "127.0.0.1")
        #expect(config.port == 5672)
        #expect(config.user == "guest")
        #expect(config.password == "guest")
        #expect(config.vhost == "/")
        #expect(config.tls == nil)
    }

    @Test func namedVhostQueryParametersAndEncodedPassword() throws {
        let config = try AMQPConfiguration(
            url: "amqp://bureau:p%40ss%3Aw@mq.example:5673/jobs%2Fkm?heartbeat=5&frame_max=65536&connection_timeout=2500&connection_name=worker-1")
        #expect(config.password == "p@ss:w")
        #expect(config.vhost == "jobs/km")
        #expect(config.port == 5673)
        #expect(config.heartbeat == 5)
        #expect(config.frameMax == 65536)
        #expect(config.connectTimeout == 2.5)
        #expect(config.connectionName == "worker-1")
    }

    @Test func amqpsDefaultsToPort5671WithVerification() throws {
        let config = try AMQPConfiguration(url: "amqps://u:p@broker/?cacertfile=/etc/ca.pem&certfile=/c.pem&keyfile=/k.pem")
        #expect(config.port == 5671)
        #expect(config.tls?.caFile == "/etc/ca.pem")
        #expect(config.tls?.certFile == "/c.pem")
        #expect(config.tls?.keyFile == "/k.pem")
        #expect(config.tls?.verifyPeer == true)
        #expect(config.tls?.verifyHostname == true)
        #expect(config.vhost == "/")
    }

    @Test func clusterListIsTriedInOrder() throws {
        let list = try AMQPConfiguration.list("amqp://a:1@n1:5672/%2F, amqp://a:1@n2:5673/%2F")
        #expect(list.map(\.host) == ["n1", "n2"])
        #expect(list.map(\.port) == [5672, 5673])
    }

    @Test func badURLsSayWhatIsWrong() {
        #expect(throws: AMQPError.self) { try AMQPConfiguration(url: "http://host/") }
        #expect(throws: AMQPError.self) { try AMQPConfiguration(url: "amqp://host/?heartbeat=soon") }
        #expect(throws: AMQPError.self) { try AMQPConfiguration(url: "amqp://host/?colour=blue") }
        #expect(throws: AMQPError.self) { try AMQPConfiguration.list(" , ") }
    }

    @Test func passwordsNeverShowInRedactedForms() throws {
        let config = try AMQPConfiguration(url: "amqp://bureau:s3cret@h:5672/%2F")
        #expect(!config.redactedURL.contains("s3cret"))
        #expect(config.redactedURL == "amqp://bureau@h:5672/%2F")
        #expect(AMQPConfiguration.redact("amqp://bureau:s3cret@h/") == "amqp://bureau:***@h/")
    }
}
