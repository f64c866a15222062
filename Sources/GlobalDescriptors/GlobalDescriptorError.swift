import TesseraCore
/// Problems with the inputs of global descriptors and whitening.
public enum GlobalDescriptorError: Error, Equatable, CustomStringConvertible {
    case badMap(String)
    case dimensionMismatch(expected: Int, got: Int)
    case noScales
    case emptyCombination

    public var description: String {
        switch self {
        case .badMap(let why): return "global descriptor: \(why)"
        case let .dimensionMismatch(e, g): return "global descriptor: expected dimension \(e), got \(g)"
        case .noScales: return "global descriptor: no feature map given"
        case .emptyCombination: return "global descriptor: CGD combination needs at least one part (and no nested .cgd)"
        }
    }
}
