import Foundation

/// Problems building a ground truth.
public enum GroundTruthError: Error, Equatable, CustomStringConvertible {
    /// A file name does not follow the collection's naming convention.
    case badName(String, expected: String)
    /// The same image appears twice.
    case duplicate(String)
    /// A line of a ground-truth file is malformed.
    case badLine(line: Int, String)
    case io(String)

    public var description: String {
        switch self {
        case let .badName(n, e): return "ground truth: file name '\(n)' is not \(e)"
        case .duplicate(let n): return "ground truth: image '\(n)' appears twice"
        case let .badLine(l, why): return "ground truth file, line \(l): \(why)"
        case .io(let why): return "ground truth: \(why)"
        }
    }
}

/// Queries and their relevant images, by image name (never the query itself in `relevant`).
///
/// Names are file names for the built-in collections (`123400.jpg`, `ukbench00042.jpg`)
/// and the strings written in an explicit ground-truth file otherwise.
public struct GroundTruth: Sendable, Equatable {
    public struct Query: Sendable, Equatable {
        public var name: String
        /// The other images relevant to this query (the query excluded).
        public var relevant: Set<String>
        public init(name: String, relevant: Set<String>) { self.name = name; self.relevant = relevant }
    }
    public var queries: [Query]
    public init(queries: [Query]) { self.queries = queries }

    /// INRIA Holidays from file names: a 6-digit id (name up to the first "."), series = id / 100,
    /// the query of a series is id % 100 == 0, relevant = the other PRESENT images of its series.
    /// A series without its query image yields no query. Queries are in id order.
    public static func holidays(fileNames: [String]) throws -> GroundTruth {
        var series: [Int: [(Int, String)]] = [:]
        var seen = Set<Int>()
        for name in fileNames {
            let stem = name.split(separator: ".", maxSplits: 1, omittingEmptySubsequences: false)[0]
            guard stem.count == 6, stem.allSatisfy({ $0.isASCII && $0.isNumber }), let id = Int(stem) else {
                throw GroundTruthError.badName(name, expected: "a Holidays 6-digit id such as 100000.jpg")
            }
            guard seen.insert(id).inserted else { throw GroundTruthError.duplicate(name) }
            series[id / 100, default: []].append((id, name))
        }
        var queries: [Query] = []
        for key in series.keys.sorted() {
            let members = series[key]!
            guard let q = members.first(where: { $0.0 % 100 == 0 }) else { continue }
            queries.append(Query(name: q.1, relevant: Set(members.filter { $0.0 != q.0 }.map { $0.1 })))
        }
        return GroundTruth(queries: queries)
    }

    /// UKBench from file names `ukbenchNNNNN.<ext>` (5 digits): group = N / 4; every image
    /// is a query, relevant = the other present images of its group. Queries are in N order.
    public static func ukbench(fileNames: [String]) throws -> GroundTruth {
        var items: [(Int, String)] = []
        var seen = Set<Int>()
        for name in fileNames {
            let stem = name.split(separator: ".", maxSplits: 1, omittingEmptySubsequences: false)[0]
            let digits = stem.dropFirst("ukbench".count)
            guard stem.hasPrefix("ukbench"), digits.count == 5, digits.allSatisfy({ $0.isASCII && $0.isNumber }),
                  let n = Int(digits) else {
                throw GroundTruthError.badName(name, expected: "a UKBench name such as ukbench00042.jpg")
            }
            guard seen.insert(n).inserted else { throw GroundTruthError.duplicate(name) }
            items.append((n, name))
        }
        items.sort { $0.0 < $1.0 }
        var groups: [Int: [String]] = [:]
        for (n, name) in items { groups[n / 4, default: []].append(name) }
        return GroundTruth(queries: items.map { n, name in
            Query(name: name, relevant: Set(groups[n / 4]!.filter { $0 != name }))
        })
    }

    /// Parses an explicit ground-truth file. Format (UTF-8 text):
    ///
    ///     # comment lines and blank lines are ignored
    ///     query_path<TAB>relevant_path_1<TAB>relevant_path_2 ...
    ///
    /// one line per query, fields separated by single TABs, paths relative to the collection
    /// root as the index names them; a query may have no relevant image (its AP is then
    /// undefined and left out of the mean). Errors: an empty field, a query listed twice,
    /// a query listing itself as relevant.
    public static func parse(_ text: String) throws -> GroundTruth {
        var queries: [Query] = [], seen = Set<String>()
        for (i, rawLine) in text.split(omittingEmptySubsequences: false, whereSeparator: \.isNewline).enumerated() {
            let line = rawLine  // "\r\n" is one Character, so CRLF files split correctly
            if line.allSatisfy({ $0 == " " || $0 == "\t" }) || line.hasPrefix("#") { continue }
            let fields = line.split(separator: "\t", omittingEmptySubsequences: false).map(String.init)
            if let empty = fields.firstIndex(where: { $0.isEmpty }) {
                throw GroundTruthError.badLine(line: i + 1,
                                               "field \(empty + 1) is empty (fields are separated by single TABs)")
            }
            let q = fields[0]
            guard seen.insert(q).inserted else {
                throw GroundTruthError.badLine(line: i + 1, "query '\(q)' is listed twice")
            }
            guard !fields.dropFirst().contains(q) else {
                throw GroundTruthError.badLine(line: i + 1, "query '\(q)' lists itself as relevant")
            }
            queries.append(Query(name: q, relevant: Set(fields.dropFirst())))
        }
        return GroundTruth(queries: queries)
    }

    /// Reads and parses an explicit ground-truth file (see `parse`).
    public init(contentsOf url: URL) throws {
        guard let data = try? Data(contentsOf: url) else { throw GroundTruthError.io("cannot read \(url.path)") }
        guard let text = String(data: data, encoding: .utf8) else {
            throw GroundTruthError.io("\(url.path) is not UTF-8 text")
        }
        self = try GroundTruth.parse(text)
    }
}
