import JobCastTestSupport
import Testing

/// Traits for suites that need a service of `TestServices`: skipped, with the reason and the fix, when it is absent.
extension Trait where Self == ConditionTrait {
    /// The test RabbitMQ node answers.
    public static var requiresRabbitMQ: Self {
        .enabled(if: TestServices.rabbitMQAnswers, Comment(rawValue: TestServices.rabbitMQMissing))
    }

    /// The test PostgreSQL answers.
    public static var requiresPostgreSQL: Self {
        .enabled(if: TestServices.postgresAnswers, Comment(rawValue: TestServices.postgresMissing))
    }

    /// Headless Chromium is installed.
    public static var requiresChromium: Self {
        .enabled(if: TestServices.chromium != nil, Comment(rawValue: TestServices.chromiumMissing))
    }
}
