import Foundation
import Prometheus
import TesseraEngine

/// The server's Prometheus metrics (`GET /metrics`, text exposition format):
/// - `tessera_queries_total`: queries answered;
/// - `tessera_requests_total{route, status}`: every response by route and status class;
/// - `tessera_query_stage_seconds{stage}`: latency histogram per query stage (decode, cnn,
///   assignment, scan, rerank) and for the whole query (total);
/// - `tessera_queue_rejections_total`: requests refused with 503 because the work queue was full;
/// - `tessera_images`: images in the newest snapshot, refreshed at each scrape.
public final class ServerMetrics: Sendable {
    public let registry = PrometheusCollectorRegistry()
    private let queries: Counter
    private let rejections: Counter
    private let images: Gauge
    private let stages: [String: ValueHistogram]

    /// Buckets from 1 ms to 10 s.
    static let buckets: [Double] = [0.001, 0.002, 0.005, 0.01, 0.02, 0.05, 0.1, 0.2, 0.5, 1, 2, 5, 10]
    static let stageNames = ["decode", "cnn", "assignment", "scan", "rerank", "total"]

    public init() {
        func name(_ metric: String, _ unit: String, _ help: String) -> MetricNameDescriptor {
            MetricNameDescriptor(namespace: "tessera", metricName: metric, unitName: unit, helpText: help)
        }
        queries = registry.makeCounter(descriptor: name("queries", "total", "Queries answered."))
        rejections = registry.makeCounter(
            descriptor: name("queue_rejections", "total", "Requests refused with 503: the work queue was full."))
        images = registry.makeGauge(descriptor: name("images", "", "Images in the newest snapshot."))
        var stages: [String: ValueHistogram] = [:]
        for s in Self.stageNames {
            stages[s] = registry.makeValueHistogram(
                descriptor: name("query_stage", "seconds", "Seconds per query stage."), labels: [("stage", s)],
                buckets: Self.buckets)
        }
        self.stages = stages
    }

    public func recordQuery(_ t: QueryTimings) {
        queries.increment()
        let values = ["decode": t.decode, "cnn": t.network, "assignment": t.assignment, "scan": t.scan,
                      "rerank": t.rerank, "total": t.total]
        for (k, v) in values { stages[k]?.record(v) }
    }

    public func recordResponse(route: String, status: Int) {
        let name = MetricNameDescriptor(namespace: "tessera", metricName: "requests", unitName: "total",
                                        helpText: "Responses by route and status.")
        registry.makeCounter(descriptor: name, labels: [("route", route), ("status", "\(status / 100)xx")]).increment()
    }

    public func recordRejection() { rejections.increment() }

    public func exposition(imageCount: Int?) -> String {
        if let imageCount { images.set(Int64(imageCount)) }
        return registry.emitToString()
    }
}
