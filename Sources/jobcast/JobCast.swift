import JobCastCore
import ArgumentParser

@main
struct JobCast: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "jobcast",
        abstract: "Broadcast employers' job postings through RabbitMQ to the employment platform and WeChat.",
        discussion: """
            Every setting is an environment variable (JOBCAST_*). The broker is JOBCAST_AMQP_URL,
            default amqp://guest:guest@127.0.0.1:5672/%2F.
            """,
        version: JobCastVersion.current,
        subcommands: [
            PingCommand.self,
            PublishCommand.self, WithdrawCommand.self,
            TopologyCommand.self,
            WorkerCommand.self,
            DLQCommand.self, PauseCommand.self, ResumeCommand.self, AuditCommand.self,
            StatsCommand.self, ReportCommand.self,
            DashboardCommand.self,
            WeChatCommand.self,
            ConfigCommand.self, HealthCommand.self,
            StoreBenchCommand.self,
        ]
    )
}
