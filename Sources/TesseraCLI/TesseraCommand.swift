import ArgumentParser
import TesseraEngine

@main
struct TesseraCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "tessera",
        abstract: "Image retrieval with multi-layer CNN patch activations (MOF).",
        subcommands: [ClassifyCommand.self, FeaturesCommand.self, VocabCommand.self, IndexCommand.self,
                      ShardsCommand.self, QueryCommand.self, ServeCommand.self, BenchCommand.self, DemoCommand.self])

    /// Runs the command; the engine's errors that a flag fixes get the flag as a hint.
    static func main() {
        do {
            var command = try parseAsRoot()
            try command.run()
        } catch let error as EngineError {
            exit(withError: CommandLineError(hinting: error))
        } catch {
            exit(withError: error)
        }
    }
}

/// An engine error with the command line's hint added.
struct CommandLineError: Error, CustomStringConvertible {
    let description: String

    init(hinting error: EngineError) {
        switch error {
        case .missingModel:
            description = "\(error) (run scripts/setup.sh, or pass --model PATH or set TESSERA_MODEL)"
        case .missingVocabulary(_, let created):
            description = "\(error): pass --vocab FILE" + (created ? "" : " to create it")
        case .invalidInput:
            description = "\(error)"
        }
    }
}

/// `--model PATH`, shared by every command that runs the network.
struct ModelOptions: ParsableArguments {
    @Option(help: "EfficientNet-Lite weights (legacy torch file). Default: $TESSERA_MODEL, else the setup cache.")
    var model: String?
}
