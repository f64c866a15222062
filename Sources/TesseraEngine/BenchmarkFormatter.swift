import Foundation

/// Benchmark reports for people: a text table and an HTML page.
public enum BenchmarkFormatter {
    public static func text(_ r: BenchmarkReport) -> String {
        var s = "# \(r.dataset): \(r.metric) = \(String(format: "%.4f", r.score)) (full system)\n"
        s += "images \(r.images), queries \(r.queries); training set: \(r.trainingSet)\n"
        for v in r.vocabulary { s += "vocabulary \(v)\n" }
        s += "\n| variant | \(r.metric) |\n|---|---|\n"
        for (k, v) in r.variants.sorted(by: { $0.key < $1.key }) { s += "| \(k) | \(String(format: "%.4f", v)) |\n" }
        s += "\n" + r.recallPrecision.sorted(by: { $0.key < $1.key }).map { "\($0.key) \(String(format: "%.3f", $0.value))" }.joined(separator: ", ") + "\n"
        s += "\n| timing | value |\n|---|---|\n"
        for (k, v) in r.timings.sorted(by: { $0.key < $1.key }) { s += "| \(k) | \(String(format: "%.3f", v)) |\n" }
        s += "peak memory: \(r.peakMemoryMiB) MiB\n"
        return s
    }

    public static func html(_ r: BenchmarkReport, rankings: [String: [String]], paths: [String: String]) -> String {
        let results = r.worstQueries.compactMap { q -> QueryResult? in
            guard let qp = paths[q] else { return nil }
            let ranked = (rankings[q] ?? []).enumerated().map { RankedImage(rank: $0.offset + 1, id: 0, path: $0.element, score: 0, layerScores: []) }
            return QueryResult(query: qp, results: ranked, timings: QueryTimings(), postingsScanned: 0)
        }
        var page = QueryReport.html(results, title: "Tessera \(r.dataset): worst queries of the full system (green: same group/series)",
                                    highlight: { q, p in sameGroup(q, p, dataset: r.dataset) })
        let rows = r.variants.sorted(by: { $0.key < $1.key }).map { "<tr><td>\(QueryReport.escape($0.key))</td><td>\(String(format: "%.4f", $0.value))</td></tr>" }.joined()
        let table = "<h2>\(r.metric) = \(String(format: "%.4f", r.score))</h2><p>\(QueryReport.escape(r.trainingSet))</p><table border=1 cellpadding=4><tr><th>variant</th><th>\(r.metric)</th></tr>\(rows)</table>"
        page = page.replacingOccurrences(of: "</h1>", with: "</h1>" + table)
        return page
    }

    /// Ground truth from names, for colouring thumbnails.
    static func sameGroup(_ a: String, _ b: String, dataset: String) -> Bool {
        func number(_ p: String) -> Int? {
            let stem = URL(fileURLWithPath: p).deletingPathExtension().lastPathComponent
            return Int(stem.filter(\.isNumber))
        }
        guard let x = number(a), let y = number(b) else { return false }
        return dataset == "ukbench" ? x / 4 == y / 4 : x / 100 == y / 100
    }
}
