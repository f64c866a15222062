import TesseraCore

/// The per-layer norm of an image or a query (MOF §4, normalisation of eq. 8):
/// ‖q‖ = sqrt(Σ_w idf_w² · tf(w)), where tf(w) counts the layer's assignments to w
/// (all k of them; k = 1 on the database side). This is the self-score of eq. 3 with
/// the burstiness correction of eq. 8 (Σ_w idf² · tf·tf / sqrt(tf·tf)), so an image
/// matched against itself without HE (or with every signature identical) scores 1.
///
/// Assignments to `QuantizedLayer.none` and words beyond the IDF table are skipped.
public func imageNorm(_ q: QuantizedLayer, idf: [Float]) -> Float {
    idf.withUnsafeBufferPointer { imageNorm(q, idf: $0) }
}

/// `imageNorm(_:idf:)` over a borrowed IDF table.
public func imageNorm(_ q: QuantizedLayer, idf: UnsafeBufferPointer<Float>) -> Float {
    var sum: Double = 0
    for w in q.words where w != QuantizedLayer.none && Int(w) < idf.count {
        let v = Double(idf[Int(w)])
        sum += v * v
    }
    return Float(sum.squareRoot())
}

/// 1/‖I‖ per image id for the scan to multiply by (the normalisation of eq. 8), 0 where
/// ‖I‖ is 0 (an absent or removed image, which thereby scores 0).
public func inverseNorms(_ norms: [Float]) -> [Float] {
    norms.map { $0 > 0 ? 1 / $0 : 0 }
}
