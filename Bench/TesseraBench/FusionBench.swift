func runFusionBench(_ args: [String]) throws { print("not yet") }
