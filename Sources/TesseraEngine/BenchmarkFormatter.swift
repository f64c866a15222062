import Foundation

/// Benchmark reports for people: a text table and an HTML page.
public enum BenchmarkFormatter {
    public static func text(_ r: BenchmarkReport) -> String {
        let metric = r.metric.rawValue
        var s = "# \(r.dataset): \(metric) = \(String(format: "%.4f", r.score)) (full system)\n"
        s += "images \(r.images), queries \(r.queries); training set: \(r.trainingSet)\n"
        for v in r.vocabulary { s += "vocabulary \(v)\n" }
        if let best = r.bestGlobal {
            s += String(format: "best global-only variant: %@ = %.4f; full system's margin over it: %+.4f\n",
                        r.name(best.variant), best.score, r.score - best.score)
        }
        s += "\n| variant | \(metric) |\n|---|---|\n"
        for v in r.namedVariants { s += "| \(v.name) | \(String(format: "%.4f", v.score)) |\n" }
        s += "\n" + r.recallPrecision.sorted { $0.key < $1.key }
            .map { "\($0.key) \(String(format: "%.3f", $0.value))" }.joined(separator: ", ") + "\n"
        s += "\n| timing | value |\n|---|---|\n"
        for (k, v) in r.timings.sorted(by: { $0.key < $1.key }) { s += "| \(k) | \(String(format: "%.3f", v)) |\n" }
        s += "peak memory: \(r.peakMemoryMiB) MiB; OpenBLAS kernel: \(r.blasKernel)\n"
        return s
    }

    /// The variants' table and the full system's worst queries with their top 10, the
    /// relevant images (ground truth) framed green.
    public static func html(_ run: BenchmarkRun) -> String {
        let r = run.report
        let relevant = Dictionary(uniqueKeysWithValues: r.worstQueries.map { ($0.name, Set($0.relevant)) })
        let results = r.worstQueries.compactMap { q -> QueryResult? in
            guard let path = run.paths[q.name] else { return nil }
            let ranked = (run.rankings[q.name] ?? []).enumerated().map {
                RankedImage(rank: $0.offset + 1, id: 0, path: $0.element, score: 0, layerScores: [])
            }
            return QueryResult(query: path, results: ranked, timings: QueryTimings(), postingsScanned: 0)
        }
        let name = { (p: String) in URL(fileURLWithPath: p).lastPathComponent }
        var page = QueryReport.html(results, title: "Tessera \(r.dataset): worst queries of the full system "
                                    + "(green: relevant)",
                                    highlight: { q, p in relevant[name(q)]?.contains(name(p)) == true })
        let rows = r.namedVariants.map {
            "<tr><td>\(QueryReport.escape($0.name))</td><td>\(String(format: "%.4f", $0.score))</td></tr>"
        }.joined()
        let table = "<h2>\(r.metric.rawValue) = \(String(format: "%.4f", r.score))</h2>"
            + "<p>\(QueryReport.escape(r.trainingSet))</p><table border=1 cellpadding=4>"
            + "<tr><th>variant</th><th>\(r.metric.rawValue)</th></tr>\(rows)</table>"
        page = page.replacingOccurrences(of: "</h1>", with: "</h1>" + table)
        return page
    }
}
