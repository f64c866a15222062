import Foundation

/// Renders query results as a table, JSON or a self-contained HTML page.
public enum QueryReport {
    public static func table(_ r: QueryResult, verbose: Bool) -> String {
        var s = "query: \(r.query)\nrank\tscore\tpath\n"
        for x in r.results { s += "\(x.rank)\t\(String(format: "%.4f", x.score))\t\(x.path)\n" }
        if let c = r.coverage, c.isPartial { s += "PARTIAL: \(c)\n" }
        if verbose {
            let t = r.timings
            s += String(format: "timings (ms): decode %.1f, CNN %.1f, assignment %.1f, scan %.1f, rerank %.1f, "
                            + "total %.1f; %d postings scanned\n",
                        1000 * t.decode, 1000 * t.network, 1000 * t.assignment, 1000 * t.scan, 1000 * t.rerank,
                        1000 * t.total, r.postingsScanned)
        }
        return s
    }

    /// `[{query, results: [{rank, id, path, score, layerScores}], timings, postingsScanned}]`.
    public static func json(_ results: [QueryResult]) -> String {
        let data = try! JSONSerialization.data(withJSONObject: results.map(object),
                                               options: [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes])
        return String(decoding: data, as: UTF8.self)
    }

    /// One query's JSON object (what `json` lists and the query server returns).
    /// A sharded search adds each result's `shard` and the query's `coverage`.
    public static func object(_ r: QueryResult) -> [String: Any] {
        var o: [String: Any] = [
            "query": r.query,
            "results": r.results.map { x -> [String: Any] in
                var e: [String: Any] = ["rank": x.rank, "id": Int(x.id), "path": x.path, "score": Double(x.score),
                                        "layerScores": x.layerScores.map(Double.init)]
                if let s = x.shard { e["shard"] = s }
                return e
            },
            "timings": ["decode": r.timings.decode, "cnn": r.timings.network, "assignment": r.timings.assignment,
                        "scan": r.timings.scan, "rerank": r.timings.rerank, "total": r.timings.total],
            "postingsScanned": r.postingsScanned,
        ]
        if let c = r.coverage {
            o["coverage"] = ["asked": c.asked, "answered": c.answered, "failed": c.failed, "timedOut": c.timedOut,
                             "partial": c.isPartial, "errors": c.errors] as [String: Any]
        }
        return o
    }

    /// One row per query: the query image, then its ranked results as thumbnails with
    /// rank, score and file name. Images are embedded as data URIs, so the page stands alone.
    public static func html(_ results: [QueryResult], title: String,
                            highlight: ((String, String) -> Bool)? = nil) -> String {
        var s = """
        <!DOCTYPE html><html><head><meta charset="utf-8"><title>\(escape(title))</title><style>
        body{font-family:system-ui,sans-serif;margin:16px;background:#fafafa;color:#222}
        h1{font-size:20px} .row{display:flex;gap:10px;align-items:flex-start;margin:14px 0;padding:10px;\
        background:#fff;border:1px solid #ddd;border-radius:6px;overflow-x:auto}
        figure{margin:0;width:150px;flex:none} img{width:150px;height:112px;object-fit:cover;\
        border-radius:4px;border:3px solid transparent}
        .query img{border-color:#2563eb} .hit img{border-color:#16a34a} .miss img{border-color:#dc2626}
        figcaption{font-size:11px;line-height:1.3;word-break:break-all}
        </style></head><body><h1>\(escape(title))</h1>
        """
        for r in results {
            s += "<div class=\"row\"><figure class=\"query\">\(image(r.query))<figcaption><b>query</b><br>"
                + "\(escape(name(r.query)))</figcaption></figure>"
            for x in r.results {
                let cls = highlight.map { $0(r.query, x.path) ? "hit" : "miss" } ?? ""
                s += "<figure class=\"\(cls)\">\(image(x.path))<figcaption>#\(x.rank) · "
                    + "\(String(format: "%.3f", x.score))<br>\(escape(name(x.path)))</figcaption></figure>"
            }
            s += "</div>\n"
        }
        return s + "</body></html>\n"
    }

    static func name(_ p: String) -> String { URL(fileURLWithPath: p).lastPathComponent }

    static func image(_ path: String) -> String {
        guard let d = try? Data(contentsOf: URL(fileURLWithPath: path)) else { return "<div>(missing)</div>" }
        return "<img alt=\"\(escape(name(path)))\" src=\"data:image/jpeg;base64,\(d.base64EncodedString())\">"
    }

    static func escape(_ s: String) -> String {
        s.replacingOccurrences(of: "&", with: "&amp;").replacingOccurrences(of: "<", with: "&lt;")
            .replacingOccurrences(of: ">", with: "&gt;").replacingOccurrences(of: "\"", with: "&quot;")
    }
}
