import ArgumentParser

@main
struct TesseraCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "tessera",
        abstract: "Image retrieval with multi-layer CNN patch activations (MOF).",
        subcommands: [ClassifyCommand.self, FeaturesCommand.self, VocabCommand.self, IndexCommand.self,
                      QueryCommand.self, BenchCommand.self, DemoCommand.self])
}

/// `--model PATH`, shared by every command that runs the network.
struct ModelOptions: ParsableArguments {
    @Option(help: "EfficientNet-Lite weights (legacy torch file). Default: $TESSERA_MODEL, else the setup cache.")
    var model: String?
}
