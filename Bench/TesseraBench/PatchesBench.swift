func runPatchesBench(_ args: [String]) throws { print("not yet") }
