import Foundation
import XCTest
import Fusion
import TesseraCore
@testable import TesseraEngine

/// A sharded index against one index holding the same images: the same ranked lists and
/// scores for every kind of query, however the images are split; refusals and partial answers.
final class ShardingTests: XCTestCase {
    /// The fixture's 48-image collection and 12 queries, extracted once; the single index.
    static let corpus = Result { () throws -> Corpus in
        let f = try EngineFixture.shared.get()
        let single = try SearchIndex(directory: fresh("single"), vocabulary: f.vocabulary, modelPath: nil,
                                     create: true)
        var features: [String: ExtractedImage] = [:]
        for p in ImageFiles.collect([f.collection.path]) { features[p] = try single.extractor.extract(p) }
        XCTAssertEqual(try single.add(features.keys.sorted(), showProgress: false, features: { features[$0]! })
            .added.count, 48)
        let queries = try ImageFiles.collect([f.queries.path]).map { try single.extractor.extract($0) }
        return Corpus(single: single, features: features, queries: queries)
    }

    struct Corpus {
        var single: SearchIndex
        var features: [String: ExtractedImage]
        var queries: [ExtractedImage]
        var files: [String] { features.keys.sorted() }
    }

    static func fresh(_ name: String) throws -> URL {
        let dir = try EngineFixture.shared.get().root.appendingPathComponent("sharding-\(name)")
        try? FileManager.default.removeItem(at: dir)
        return dir
    }

    /// The query kinds compared: the defaults (query-adaptive fusion, rerank, αQE), fixed
    /// weights, a small top M (lists shorter than a shard, so the threshold test decides),
    /// global candidates, verification, a subset of layers, unwhitened, and global-only.
    static var variants: [(String, QueryOptions)] {
        var out: [(String, QueryOptions)] = []
        var o = QueryOptions(); o.top = 20
        out.append(("defaults", o))
        var fixed = o; fixed.fusion = nil; fixed.rerank = false
        out.append(("equal weights, no rerank", fixed))
        var small = o; small.fusion = .queryAdaptive(topM: 3); small.rerank = false; small.top = 4
        out.append(("top M 3, top 4", small))
        var smallRerank = o; smallRerank.fusion = .queryAdaptive(topM: 2); smallRerank.rerankOptions.depth = 6
        smallRerank.top = 6
        out.append(("top M 2, rerank 6", smallRerank))
        var candidates = o; candidates.rerankOptions.globalCandidates = 10; candidates.rerankOptions.depth = 5
        out.append(("global candidates", candidates))
        var verified = o; verified.verification = VerificationOptions(depth: 15)
        out.append(("verification", verified))
        var layers = o; layers.layers = [0, 2]; layers.queryExpansion = 0
        out.append(("layers 0 and 2", layers))
        var raw = o; raw.whiten = false
        out.append(("unwhitened", raw))
        var global = o; global.globalOnly = true
        out.append(("global only", global))
        return out
    }

    /// Every variant, every query: the same paths in the same order, scores within float
    /// rounding (whitening runs as one SGEMM per shard), layer scores bit for bit.
    func assertSameAsSingle(_ coordinator: ShardCoordinator, _ corpus: Corpus, _ label: String,
                            file: StaticString = #filePath, line: UInt = #line) throws {
        for (name, o) in Self.variants {
            try corpus.single.withPipeline(o) { p in
                for x in corpus.queries {
                    let want = try p.search(x), got = try coordinator.search(x, options: o)
                    let what = "\(label), \(name), \(stem(x.path))"
                    XCTAssertEqual(got.results.map(\.path), want.results.map(\.path), what, file: file, line: line)
                    for (a, b) in zip(got.results, want.results) {
                        XCTAssertEqual(a.score, b.score, accuracy: 1e-5, what, file: file, line: line)
                        XCTAssertEqual(a.layerScores, b.layerScores, what, file: file, line: line)
                    }
                    XCTAssertEqual(got.coverage?.isPartial, false, what, file: file, line: line)
                }
            }
        }
    }

    func testShardedRankingsEqualOneIndexFor1To7Shards() throws {
        let corpus = try Self.corpus.get()
        let f = try EngineFixture.shared.get()
        var manifests: [URL] = []
        for count in [1, 2, 3, 7] {
            let sharded = try ShardedIndex.create(at: try Self.fresh("split-\(count)"), shards: count,
                                                  vocabulary: f.vocabulary, modelPath: nil)
            let report = try sharded.add(corpus.files, showProgress: false, features: { corpus.features[$0]! })
            XCTAssertEqual(report.added.count, 48)
            let counts = try sharded.counts()
            XCTAssertEqual(counts.reduce(0, +), 48)
            XCTAssertEqual(counts.count, count)
            if count > 1 { XCTAssertTrue(counts.allSatisfy { $0 < 48 }, "routing put everything in one shard") }
            XCTAssertEqual(try ShardManifest.load(from: sharded.manifestURL).shards.map(\.images), counts)
            try assertSameAsSingle(try sharded.coordinator(), corpus, "\(count) shards")
            manifests.append(sharded.manifestURL)
        }
        // Reopened (the writers above are gone), an index routes the same way: nothing is added twice.
        for url in manifests {
            let again = try ShardedIndex(manifest: url, modelPath: nil)
            XCTAssertEqual(try again.add(corpus.files, showProgress: false).alreadyIndexed.count, 48)
            // The shards share one network and vocabulary instead of loading them each.
            XCTAssertTrue(again.shards.allSatisfy { $0.extractor === again.shards[0].extractor })
        }
    }

    /// Parts built apart (halves of the collection, in two orders) merged into 3 shards rank
    /// as one index; merging again adds nothing.
    func testMergedPartsRankAsOneIndex() throws {
        let corpus = try Self.corpus.get()
        let f = try EngineFixture.shared.get()
        let files = corpus.files
        var parts: [URL] = []
        for (name, half) in [("part-a", files.enumerated().filter { $0.offset % 2 == 0 }.map(\.element)),
                             ("part-b", files.enumerated().filter { $0.offset % 2 == 1 }.map(\.element).reversed())] {
            let dir = try Self.fresh(name)
            let part = try SearchIndex(directory: dir, vocabulary: f.vocabulary, modelPath: nil, create: true)
            _ = try part.add(half, showProgress: false, features: { corpus.features[$0]! })
            parts.append(dir)
        }
        let sharded = try ShardedIndex.create(at: try Self.fresh("merged"), shards: 3, vocabulary: f.vocabulary,
                                              modelPath: nil)
        let report = try sharded.merge(parts: parts, batchSize: 5)
        XCTAssertEqual(report.added.count, 48)
        XCTAssertTrue(report.failed.isEmpty, "\(report.failed)")
        XCTAssertEqual(try sharded.merge(parts: parts).alreadyIndexed.count, 48)
        XCTAssertEqual(try sharded.counts().reduce(0, +), 48)
        try assertSameAsSingle(try sharded.coordinator(), corpus, "merged parts")
        // A part of another vocabulary is refused.
        let other = try Self.fresh("part-other")
        _ = try SearchIndex(directory: other, vocabulary: f.otherVocabulary, modelPath: nil, create: true)
        XCTAssertThrowsError(try sharded.merge(parts: [other]))
    }

    /// Shards that are not of the router's making: one with a single image, one empty.
    func testAnEmptyShardAndAOneImageShard() throws {
        let corpus = try Self.corpus.get()
        let f = try EngineFixture.shared.get()
        func index(_ name: String, _ files: [String]) throws -> SearchIndex {
            let idx = try SearchIndex(directory: try Self.fresh(name), vocabulary: f.vocabulary, modelPath: nil,
                                      create: true)
            _ = try idx.add(files, showProgress: false, features: { corpus.features[$0]! })
            return idx
        }
        let files = corpus.files
        let parts = [try index("rest", Array(files.dropFirst(1))), try index("one", [files[0]]),
                     try index("empty", [])]
        let coordinator = ShardCoordinator(identity: ShardIdentity(of: parts[0]), vocabulary: parts[0].vocabulary,
                                           whitening: parts[0].whitening, extractor: parts[0].extractor,
                                           shards: parts.map { LocalShard(LiveIndex(index: $0)) })
        try assertSameAsSingle(coordinator, corpus, "one-image and empty shards")
    }

    /// With lists shorter than the shards, some queries need the second round (the threshold
    /// test cannot rule a shard out), and the answer is still exact.
    func testTheThresholdTestAsksAgainOnlyWhenAShardCouldHoldAWinner() throws {
        let corpus = try Self.corpus.get()
        let f = try EngineFixture.shared.get()
        let sharded = try ShardedIndex.create(at: try Self.fresh("rounds"), shards: 2, vocabulary: f.vocabulary,
                                              modelPath: nil)
        _ = try sharded.add(corpus.files, showProgress: false, features: { corpus.features[$0]! })
        let counting = sharded.shards.map { CountingShard(LocalShard(LiveIndex(index: $0))) }
        let coordinator = ShardCoordinator(identity: sharded.manifest.identity,
                                           vocabulary: sharded.shards[0].vocabulary,
                                           whitening: sharded.shards[0].whitening, extractor: nil, shards: counting)
        var o = QueryOptions()
        o.fusion = .queryAdaptive(topM: 2); o.rerank = false; o.top = 3
        var second = 0, first = 0
        try corpus.single.withPipeline(o) { p in
            for x in corpus.queries {
                let before = counting.map(\.scans)
                let got = try coordinator.search(x, options: o)
                XCTAssertEqual(got.results.map(\.path), try p.search(x).results.map(\.path), stem(x.path))
                let asked = zip(counting.map(\.scans), before).map { $0 - $1 }
                XCTAssertTrue(asked.allSatisfy { $0 == 1 || $0 == 2 })
                second += asked.filter { $0 == 2 }.count
                first += asked.count
            }
        }
        XCTAssertGreaterThan(second, 0, "no query needed a second round: the test does not test it")
        XCTAssertLessThan(second, first, "every shard was asked twice: the threshold test rules nothing out")
    }

    /// The wire form of a quantised layer (the bulk of a scan request) round-trips exactly and
    /// refuses inconsistent sizes and partial elements with an error.
    func testQuantizedLayersCrossTheWireExactly() throws {
        let layer = QuantizedLayer(count: 2, k: 2, signatureWords: 2, words: [7, QuantizedLayer.none, 0, 19_999],
                                   distances: [0.25, -.infinity, 1e-30, 3], signatures: (0..<8).map {
                                       UInt64.max / UInt64($0 + 1) })
        let data = try JSONEncoder().encode(layer)
        XCTAssertEqual(try JSONDecoder().decode(QuantizedLayer.self, from: data), layer)
        var object = try XCTUnwrap(try JSONSerialization.jsonObject(with: data) as? [String: Any])
        object["count"] = 3
        XCTAssertThrowsError(try JSONDecoder().decode(QuantizedLayer.self,
                                                      from: try JSONSerialization.data(withJSONObject: object)))
        object["count"] = 2
        object["words"] = Data([1, 2, 3]).base64EncodedString()
        XCTAssertThrowsError(try JSONDecoder().decode(QuantizedLayer.self,
                                                      from: try JSONSerialization.data(withJSONObject: object)))
    }

    func testAShardOfAnotherVocabularyAndDBAAreRefused() throws {
        let corpus = try Self.corpus.get()
        let f = try EngineFixture.shared.get()
        let other = try SearchIndex(directory: try Self.fresh("other-vocab"), vocabulary: f.otherVocabulary,
                                    modelPath: nil, create: true)
        let mixed = ShardCoordinator(identity: ShardIdentity(of: corpus.single), vocabulary: corpus.single.vocabulary,
                                     whitening: corpus.single.whitening, extractor: nil,
                                     shards: [LocalShard(LiveIndex(index: corpus.single)),
                                              LocalShard(LiveIndex(index: other))])
        XCTAssertThrowsError(try mixed.search(corpus.queries[0], options: QueryOptions())) { error in
            guard case ShardError.identityMismatch(shard: 1, let differences) = error else {
                return XCTFail("expected an identity mismatch of shard 1, got \(error)")
            }
            XCTAssertTrue(differences.contains { $0.hasPrefix("vocabulary") }, "\(differences)")
        }
        // A shard replaced behind its address after it passed the check: its first scan answer,
        // which names the other index, is refused.
        let replaced = ShardCoordinator(identity: ShardIdentity(of: corpus.single),
                                        vocabulary: corpus.single.vocabulary,
                                        whitening: corpus.single.whitening, extractor: nil,
                                        shards: [LocalShard(LiveIndex(index: corpus.single)),
                                                 ReplacedShard(checked: LocalShard(LiveIndex(index: corpus.single)),
                                                               answering: LocalShard(LiveIndex(index: other)))])
        XCTAssertThrowsError(try replaced.search(corpus.queries[0], options: QueryOptions())) { error in
            guard case ShardError.identityMismatch(shard: 1, _) = error else {
                return XCTFail("expected an identity mismatch of shard 1, got \(error)")
            }
        }
        let alone = ShardCoordinator(identity: ShardIdentity(of: corpus.single), vocabulary: corpus.single.vocabulary,
                                     whitening: corpus.single.whitening, extractor: nil,
                                     shards: [LocalShard(LiveIndex(index: corpus.single))])
        var dba = QueryOptions(); dba.databaseAugmentation = 2
        XCTAssertThrowsError(try alone.search(corpus.queries[0], options: dba)) { error in
            XCTAssertTrue("\(error)".contains("DBA"), "\(error)")
        }
    }

    /// A shard that fails and one that misses the deadline: the answer comes from the others,
    /// marked partial with the counts, and equals a search of the shards that answered.
    func testAFailedOrLateShardGivesAPartialAnswerWithCoverage() throws {
        let corpus = try Self.corpus.get()
        let f = try EngineFixture.shared.get()
        let sharded = try ShardedIndex.create(at: try Self.fresh("faults"), shards: 3, vocabulary: f.vocabulary,
                                              modelPath: nil)
        _ = try sharded.add(corpus.files, showProgress: false, features: { corpus.features[$0]! })
        let locals = sharded.shards.map { LocalShard(LiveIndex(index: $0)) }
        func coordinator(_ shards: [any SearchShard], deadline: TimeInterval? = nil) -> ShardCoordinator {
            ShardCoordinator(identity: sharded.manifest.identity, vocabulary: sharded.shards[0].vocabulary,
                             whitening: sharded.shards[0].whitening, extractor: nil, shards: shards,
                             deadline: deadline)
        }
        let healthy = coordinator(Array(locals.prefix(2)))
        let failing = coordinator(Array(locals.prefix(2)) + [FailingShard(inner: locals[2], delay: 0)])
        let late = coordinator(Array(locals.prefix(2)) + [FailingShard(inner: locals[2], delay: 3)], deadline: 1)
        // A shard whose answer has the wrong number of layer scores counts as failed, too.
        let garbled = coordinator(Array(locals.prefix(2)) + [GarbledShard(inner: locals[2])])
        var o = QueryOptions(); o.top = 10
        let mangled = try garbled.search(corpus.queries[0], options: o)
        XCTAssertEqual(mangled.coverage?.failed, 1)
        XCTAssertEqual(mangled.results.map(\.path),
                       try healthy.search(corpus.queries[0], options: o).results.map(\.path))
        for x in corpus.queries.prefix(3) {
            let want = try healthy.search(x, options: o)
            let failed = try failing.search(x, options: o)
            XCTAssertEqual(failed.results.map(\.path), want.results.map(\.path))
            XCTAssertEqual(failed.coverage?.asked, 3)
            XCTAssertEqual(failed.coverage?.answered, 2)
            XCTAssertEqual(failed.coverage?.failed, 1)
            XCTAssertEqual(failed.coverage?.isPartial, true)
            let start = Date()
            let slow = try late.search(x, options: o)
            XCTAssertLessThan(Date().timeIntervalSince(start), 2.5, "the coordinator waited past its deadline")
            XCTAssertEqual(slow.results.map(\.path), want.results.map(\.path))
            XCTAssertEqual(slow.coverage?.timedOut, 1)
            XCTAssertTrue(QueryReport.table(slow, verbose: false).contains("PARTIAL"))
        }
    }
}

/// Counts scans (test double around a real shard).
final class CountingShard: SearchShard, @unchecked Sendable {
    let inner: any SearchShard
    private let lock = NSLock()
    private var count = 0
    var scans: Int { lock.withLock { count } }
    init(_ inner: any SearchShard) { self.inner = inner }
    func info() throws -> ShardInfo { try inner.info() }
    func scan(_ r: ShardScanRequest) throws -> ShardScanResponse {
        lock.withLock { count += 1 }
        return try inner.scan(r)
    }
    func globalTop(_ q: [Float], k: Int, whiten: Bool) throws -> [ShardHit] {
        try inner.globalTop(q, k: k, whiten: whiten)
    }
    func descriptors(_ ids: [ImageID], whiten: Bool) throws -> [[Float]] { try inner.descriptors(ids, whiten: whiten) }
    func verify(_ r: ShardVerifyRequest) throws -> [Float?] { try inner.verify(r) }
}

/// A shard whose searches fail at once (delay 0) or answer after `delay` seconds (test double).
final class FailingShard: SearchShard, @unchecked Sendable {
    struct Down: Error {}
    let inner: any SearchShard
    let delay: TimeInterval
    init(inner: any SearchShard, delay: TimeInterval) { self.inner = inner; self.delay = delay }
    func info() throws -> ShardInfo { try inner.info() }
    private func fail() throws {
        guard delay > 0 else { throw Down() }
        Thread.sleep(forTimeInterval: delay)
    }
    func scan(_ r: ShardScanRequest) throws -> ShardScanResponse { try fail(); return try inner.scan(r) }
    func globalTop(_ q: [Float], k: Int, whiten: Bool) throws -> [ShardHit] {
        try fail(); return try inner.globalTop(q, k: k, whiten: whiten)
    }
    func descriptors(_ ids: [ImageID], whiten: Bool) throws -> [[Float]] {
        try fail(); return try inner.descriptors(ids, whiten: whiten)
    }
    func verify(_ r: ShardVerifyRequest) throws -> [Float?] { try fail(); return try inner.verify(r) }
}

/// A shard whose identity check passes on one index while its scans come from another, as
/// when a shard process is replaced behind its address (test double).
final class ReplacedShard: SearchShard, @unchecked Sendable {
    let checked: any SearchShard, answering: any SearchShard
    init(checked: any SearchShard, answering: any SearchShard) { self.checked = checked; self.answering = answering }
    func info() throws -> ShardInfo { try checked.info() }
    func scan(_ r: ShardScanRequest) throws -> ShardScanResponse { try answering.scan(r) }
    func globalTop(_ q: [Float], k: Int, whiten: Bool) throws -> [ShardHit] {
        try answering.globalTop(q, k: k, whiten: whiten)
    }
    func descriptors(_ ids: [ImageID], whiten: Bool) throws -> [[Float]] {
        try answering.descriptors(ids, whiten: whiten)
    }
    func verify(_ r: ShardVerifyRequest) throws -> [Float?] { try answering.verify(r) }
}

/// A shard whose scans list one layer score too few per hit (test double).
final class GarbledShard: SearchShard, @unchecked Sendable {
    let inner: any SearchShard
    init(inner: any SearchShard) { self.inner = inner }
    func info() throws -> ShardInfo { try inner.info() }
    func scan(_ r: ShardScanRequest) throws -> ShardScanResponse {
        var a = try inner.scan(r)
        for i in a.hits.indices { a.hits[i].layerScores.removeLast() }
        return a
    }
    func globalTop(_ q: [Float], k: Int, whiten: Bool) throws -> [ShardHit] {
        try inner.globalTop(q, k: k, whiten: whiten)
    }
    func descriptors(_ ids: [ImageID], whiten: Bool) throws -> [[Float]] { try inner.descriptors(ids, whiten: whiten) }
    func verify(_ r: ShardVerifyRequest) throws -> [Float?] { try inner.verify(r) }
}
