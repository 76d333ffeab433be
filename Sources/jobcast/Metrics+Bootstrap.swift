import JobCastWorker
import Metrics
import Prometheus

/// The one place that chooses the metrics backend: swift-prometheus, with each family's histogram
/// buckets. The libraries record through swift-metrics only.
enum JobCastMetrics {
    /// Bootstraps swift-metrics with a Prometheus registry (once per process) and returns the registry,
    /// whose text the worker serves on `/metrics`.
    static func bootstrap() -> PrometheusCollectorRegistry {
        let registry = PrometheusCollectorRegistry()
        var factory = PrometheusMetricsFactory(registry: registry)
        factory.durationHistogramBuckets = MetricNames.durationBuckets
        factory.valueHistogramBuckets = MetricNames.valueBuckets
        MetricsSystem.bootstrap(factory)
        return registry
    }
}

extension JobCastMetrics {
    /// The registry's text with a `# HELP` line before each family's `# TYPE` line (from ``MetricNames/help``).
    static func exposition(_ registry: PrometheusCollectorRegistry) -> String {
        let text = registry.emitToString()
        var out = ""
        out.reserveCapacity(text.utf8.count + 2048)
        for line in text.split(separator: "\n", omittingEmptySubsequences: false) {
            if line.hasPrefix("# TYPE ") {
                let name = line.dropFirst("# TYPE ".count).prefix { $0 != " " }
                if let help = MetricNames.help[String(name)] { out += "# HELP \(name) \(help)\n" }
            }
            out += line
            out += "\n"
        }
        if out.hasSuffix("\n\n") { out.removeLast() }
        return out
    }
}
