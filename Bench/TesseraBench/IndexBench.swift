func runIndexBench(_ args: [String]) throws { print("not yet") }
