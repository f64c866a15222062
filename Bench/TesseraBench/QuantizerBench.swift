func runQuantizerBench(_ args: [String]) throws { print("not yet") }
