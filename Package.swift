// swift-tools-version:6.0
import PackageDescription

let package = Package(
    name: "JobCast",
    platforms: [.macOS(.v14)],
    products: [
        .executable(name: "jobcast", targets: ["jobcast"]),
        .library(name: "AMQP", targets: ["AMQP"]),
        .library(name: "JobCastCore", targets: ["JobCastCore"]),
        .library(name: "JobCastChannels", targets: ["JobCastChannels"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-argument-parser", from: "1.5.0"),
        .package(url: "https://github.com/apple/swift-log", from: "1.6.0"),
        .package(url: "https://github.com/apple/swift-crypto", "3.9.0"..<"5.0.0"),
        .package(url: "https://github.com/swift-server/swift-service-lifecycle", from: "2.6.0"),
        .package(url: "https://github.com/hummingbird-project/swift-mustache", from: "2.0.0"),
        .package(url: "https://github.com/x-sheep/swift-property-based", from: "2.0.0"),
        .package(url: "https://github.com/vapor/sql-kit", from: "3.30.0"),
        .package(url: "https://github.com/vapor/sqlite-kit", from: "4.5.0"),
        .package(url: "https://github.com/vapor/postgres-kit", from: "2.13.0"),
        .package(url: "https://github.com/swift-server/async-http-client", from: "1.20.0"),
        .package(url: "https://github.com/hummingbird-project/hummingbird", from: "2.0.0"),
        .package(url: "https://github.com/apple/swift-nio", from: "2.65.0"),
        .package(url: "https://github.com/apple/swift-metrics", from: "2.5.0"),
        .package(url: "https://github.com/swift-server/swift-prometheus", from: "2.0.0"),
    ],
    targets: [
        // rabbitmq-c, the C AMQP 0-9-1 client (Debian: librabbitmq-dev).
        .systemLibrary(
            name: "CRabbitMQ",
            pkgConfig: "librabbitmq",
            providers: [.apt(["librabbitmq-dev"])]
        ),
        // Linux calls Swift's Glibc module leaves out (syncfs for the outbox's group commit).
        .target(name: "CSystemExtras"),
        // The only Swift code that calls into rabbitmq-c.
        .target(
            name: "AMQP",
            dependencies: [
                "CRabbitMQ",
                .product(name: "Logging", package: "swift-log"),
            ]
        ),
        // Domain: postings, validation, configuration, errors. No I/O drivers.
        .target(
            name: "JobCastCore",
            dependencies: [
                .product(name: "Crypto", package: "swift-crypto"),
                .product(name: "Logging", package: "swift-log"),
            ]
        ),
        // JobCast on the broker: the topology, and publishing postings with confirms.
        .target(
            name: "JobCastBroker",
            dependencies: [
                "AMQP",
                "JobCastCore",
                .product(name: "Logging", package: "swift-log"),
            ]
        ),
        // The worker: consumes a channel's queue, delivers through the channel's driver, records, acks.
        .target(
            name: "JobCastWorker",
            dependencies: [
                "AMQP",
                "JobCastBroker",
                "JobCastChannels",
                "JobCastCore",
                "JobCastStore",
                .product(name: "Hummingbird", package: "hummingbird"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "Metrics", package: "swift-metrics"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
            ]
        ),
        // The operator's console: dead letters (list, show, replay, purge), pause and resume, each audited in the
        // store. One implementation behind `jobcast dlq|pause|resume` and the dashboard's buttons.
        .target(
            name: "JobCastConsole",
            dependencies: [
                "AMQP",
                "JobCastBroker",
                "JobCastCore",
                "JobCastStore",
                .product(name: "Logging", package: "swift-log"),
            ]
        ),
        // `jobcast dashboard`: the delivery figures as charts (one self-contained page) and their JSON API.
        .target(
            name: "JobCastDashboard",
            dependencies: [
                "AMQP",
                "JobCastBroker",
                "JobCastConsole",
                "JobCastCore",
                "JobCastStore",
                .product(name: "Hummingbird", package: "hummingbird"),
                .product(name: "Logging", package: "swift-log"),
            ],
            resources: [.copy("Page")]
        ),
        // The `jobcast` command-line tool.
        .executableTarget(
            name: "jobcast",
            dependencies: [
                "AMQP",
                "JobCastBroker",
                "JobCastChannels",
                "JobCastConsole",
                "JobCastCore",
                "JobCastDashboard",
                "JobCastStore",
                "JobCastWorker",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "Metrics", package: "swift-metrics"),
                .product(name: "Prometheus", package: "swift-prometheus"),
            ]
        ),
        // Channels: what each channel receives (renderers, templates) and, later, delivery over HTTP.
        .target(
            name: "JobCastChannels",
            dependencies: [
                "CSystemExtras",
                "JobCastCore",
                .product(name: "Mustache", package: "swift-mustache"),
                .product(name: "AsyncHTTPClient", package: "async-http-client"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOHTTP1", package: "swift-nio"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "Metrics", package: "swift-metrics"),
            ],
            resources: [.copy("Templates")]
        ),
        // The AMQP wrapper under load with no work of its own (scripts/bench-amqp.sh runs it beside Benchmarks/raw).
        .executableTarget(
            name: "amqp-benchmark",
            dependencies: ["AMQP", .product(name: "Logging", package: "swift-log")],
            path: "Benchmarks/AMQPBenchmark"
        ),
        // JobCast against the raw rabbitmq-c ceiling in one run: publish, workers, latency, memory (scripts/bench.sh).
        .executableTarget(
            name: "jobcast-benchmark",
            dependencies: [
                "AMQP", "ChannelStandIns", "JobCastBroker", "JobCastCore", "JobCastTestSupport",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
                .product(name: "Logging", package: "swift-log"),
            ],
            path: "Benchmarks/JobCastBenchmark"
        ),
        .testTarget(name: "AMQPTests", dependencies: ["AMQP", "JobCastTestSupport", "JobCastTestTraits"]),
        // Publishing against real RabbitMQ nodes: the publisher, `jobcast publish`/`withdraw` and the examples/ scripts.
        .testTarget(name: "JobCastBrokerTests", dependencies: ["AMQP", "JobCastBroker", "JobCastCore", "JobCastTestSupport", "JobCastTestTraits"]),
        // Helpers shared by the core and channel tests: repository paths, the reference validator, seeded randomness.
        .target(
            name: "JobCastTestSupport", dependencies: ["AMQP", "JobCastBroker", "JobCastCore", .product(name: "Logging", package: "swift-log")],
            path: "Tests/JobCastTestSupport"),
        // The traits that skip a suite, with the reason, when RabbitMQ, PostgreSQL or Chromium is absent.
        .target(name: "JobCastTestTraits", dependencies: ["JobCastTestSupport"], path: "Tests/JobCastTestTraits"),
        .testTarget(
            name: "JobCastCoreTests",
            dependencies: [
                "JobCastCore",
                "JobCastTestSupport",
                "JobCastTestTraits",
                .product(name: "PropertyBased", package: "swift-property-based"),
            ]
        ),
        // Real HTTP servers on loopback that imitate the platform API and the WeChat API, with faults on demand.
        .target(
            name: "ChannelStandIns",
            dependencies: [
                "JobCastTestSupport",
                .product(name: "Hummingbird", package: "hummingbird"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "Logging", package: "swift-log"),
            ],
            path: "Tests/ChannelStandIns"
        ),
        .testTarget(
            name: "JobCastChannelsTests",
            dependencies: [
                "JobCastChannels",
                "JobCastCore",
                "JobCastTestSupport",
                "ChannelStandIns",
                .product(name: "AsyncHTTPClient", package: "async-http-client"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "PropertyBased", package: "swift-property-based"),
            ],
            exclude: ["Golden"]
        ),
        // The delivery store: postings and attempts over SQLKit (SQLite by default, PostgreSQL for a fleet).
        .target(
            name: "JobCastStore",
            dependencies: [
                "JobCastCore",
                .product(name: "SQLKit", package: "sql-kit"),
                .product(name: "SQLiteKit", package: "sqlite-kit"),
                .product(name: "PostgresKit", package: "postgres-kit"),
                .product(name: "Logging", package: "swift-log"),
            ]
        ),
        // Test tooling, not shipped: the chaos run (scripts/chaos.sh) — workers killed, broker restarted, faults injected, nothing lost.
        .executableTarget(
            name: "jobcast-chaos",
            dependencies: [
                "AMQP", "ChannelStandIns", "JobCastBroker", "JobCastCore", "JobCastStore", "JobCastTestSupport",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
                .product(name: "Logging", package: "swift-log"),
            ],
            path: "Tests/Chaos"
        ),
        // Test tooling, not shipped: the libFuzzer targets (scripts/fuzz.sh builds them with -sanitize=fuzzer -DFUZZING);
        // a plain build makes the same binary a replayer of inputs through them.
        .executableTarget(name: "jobcast-fuzz", dependencies: ["JobCastCore", "JobCastChannels"], path: "Tests/Fuzz"),
        .testTarget(name: "JobCastStoreTests", dependencies: ["JobCastStore", "JobCastTestSupport", "JobCastTestTraits"]),
        // The dashboard's JSON API and page (in headless Chromium), and the deploy/ Prometheus files (promtool).
        .testTarget(
            name: "JobCastDashboardTests",
            dependencies: [
                "AMQP", "JobCastBroker", "JobCastConsole", "JobCastCore", "JobCastDashboard", "JobCastStore", "JobCastTestSupport",
                "JobCastTestTraits", .product(name: "Hummingbird", package: "hummingbird"),
            ],
            exclude: ["png-colours.py", "cdp-drive.py"]
        ),
        .testTarget(
            name: "JobCastWorkerTests",
            dependencies: [
                "AMQP", "ChannelStandIns", "JobCastBroker", "JobCastChannels", "JobCastCore", "JobCastStore", "JobCastWorker",
                "JobCastTestSupport", "JobCastTestTraits",
            ]
        ),
    ],
    swiftLanguageModes: [.v6]
)
