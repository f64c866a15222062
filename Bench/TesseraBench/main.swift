// tessera-bench SUITE [options]: micro- and module benchmarks whose results go to Bench/RESULTS.md.
// Each suite lives in its own file and prints a Markdown section.
import Foundation

let suites: [String: ([String]) throws -> Void] = [
    "patches": runPatchesBench,
    "forward": runForwardBench,
    "quantizer": runQuantizerBench,
    "index": runIndexBench,
    "fusion": runFusionBench,
    "dump": runDescriptorDump,
    "vocabload": runVocabLoadBench,
]

let args = Array(CommandLine.arguments.dropFirst())
guard let name = args.first, let suite = suites[name] else {
    print("usage: tessera-bench {\(suites.keys.sorted().joined(separator: "|"))} [options]")
    exit(2)
}
do { try suite(Array(args.dropFirst())) } catch { print("error: \(error)"); exit(1) }
