import ArgumentParser
import Foundation
import TesseraCore
import TesseraEngine

/// The main job on a built-in default: real photos from a registry package (scikit-image's
/// sample data, fetched by scripts/setup.sh), each with four transformed copies in the
/// collection; train a vocabulary on other photos, index the collection, query with the
/// originals, print the ranked lists and write an HTML page.
struct DemoCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "demo", abstract: "The whole pipeline on built-in photos (run scripts/setup.sh first).")
    @OptionGroup var modelOptions: ModelOptions
    @Option(help: "Working directory for the vocabulary, the index and the HTML page.") var out = "tessera-demo"
    @Option(help: "Results shown per query.") var top = 5

    func run() throws {
        let photos = AssetCache.file("photos")
        guard FileManager.default.fileExists(atPath: photos.appendingPathComponent(".complete").path) else {
            throw ValidationError("demo photos missing in \(photos.path): run scripts/setup.sh")
        }
        let dir = URL(fileURLWithPath: out)
        try? FileManager.default.removeItem(at: dir)
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        let net = try ModelLocator.loadNetwork(explicit: modelOptions.model)
        let extractor = try FeatureExtractor(network: net, patchOptions: .init())

        print("1/3 vocabulary: training on \(photos.appendingPathComponent("train").path) "
              + "(disjoint from the collection)")
        var vo = VocabularyBuildOptions()
        vo.train.words = 1_000
        let trainFiles = ImageFiles.collect([photos.appendingPathComponent("train").path])
        let built = try VocabularyBuilder.build(images: trainFiles,
                                                folderDescription: "scikit-image sample photos (train)",
                                                extractor: extractor, options: vo)
        let vocabURL = dir.appendingPathComponent("demo.vocab")
        try built.write(to: vocabURL)
        for l in built.vocabulary.layers {
            print("    \(l.key): \(l.words) words from \(l.stats.descriptorCount) descriptors")
        }

        print("2/3 index: adding \(photos.appendingPathComponent("collection").path)")
        let idx = try SearchIndex(directory: dir.appendingPathComponent("index"), vocabulary: vocabURL,
                                  modelPath: modelOptions.model, create: true)
        let report = try idx.add([photos.appendingPathComponent("collection").path])
        print("    added \(report.added.count) images in \(String(format: "%.1f", report.seconds)) s")

        print("3/3 queries: the untouched photos; each has 4 transformed copies (crop, scale, rotate, light) "
              + "in the collection\n")
        var o = QueryOptions(); o.top = top
        let queries = ImageFiles.collect([photos.appendingPathComponent("queries").path])
        let results = try idx.query(queries, options: o)
        var found = 0
        for r in results {
            print(QueryReport.table(r, verbose: false))
            let stem = URL(fileURLWithPath: r.query).deletingPathExtension().lastPathComponent
            found += r.results.prefix(4).filter {
                URL(fileURLWithPath: $0.path).lastPathComponent.hasPrefix(stem + "_")
            }.count
        }
        let html = dir.appendingPathComponent("demo.html")
        try QueryReport.html(results, title: "Tessera demo: queries and their top \(top)", highlight: { q, p in
            URL(fileURLWithPath: p).lastPathComponent
                .hasPrefix(URL(fileURLWithPath: q).deletingPathExtension().lastPathComponent + "_")
        }).write(to: html, atomically: true, encoding: .utf8)
        print("copies found in the top 4: \(found) of \(4 * results.count)")
        print("HTML page: \(html.path)")
    }
}
