import TesseraCore

/// The `geometry` database's value for one image (LAYOUT.md): little-endian
/// `n u32`, then n frames `(x f32, y f32, side f32)`, then per layer n records
/// `(word u32, signature w × u64)`. 12 + L·(4 + 8w) bytes per patch, n·(12 + 60) for three
/// layers of 128-bit signatures.
enum GeometryCoding {
    static func encode(_ g: ImageGeometry) -> [UInt8] {
        var w = ByteWriter()
        w.u32(UInt32(g.frames.count))
        for f in g.frames {
            w.f32(f.x)
            w.f32(f.y)
            w.f32(f.side)
        }
        for layer in g.layers {
            for i in 0..<layer.count {
                w.u32(layer.words[i * layer.k])
                let o = i * layer.k * layer.signatureWords
                for s in layer.signatures[o..<(o + layer.signatureWords)] {
                    withUnsafeBytes(of: s.littleEndian) { w.bytes.append(contentsOf: $0) }
                }
            }
        }
        return w.bytes
    }

    static func decode(_ bytes: UnsafeRawBufferPointer, layers: Int, signatureWords sw: Int,
                       id: ImageID) throws -> ImageGeometry {
        var r = ByteReader(bytes, what: "geometry of image \(id)")
        let n = Int(try r.u32())
        guard n * (12 + layers * (4 + 8 * sw)) + 4 == bytes.count else {
            throw IndexError.corrupt("geometry of image \(id): \(bytes.count) bytes for \(n) patches")
        }
        var frames: [PatchFrame] = []
        frames.reserveCapacity(n)
        for _ in 0..<n { frames.append(PatchFrame(x: try r.f32(), y: try r.f32(), side: try r.f32())) }
        let quantized = try (0..<layers).map { _ -> QuantizedLayer in
            var words: [UInt32] = [], signatures: [UInt64] = []
            words.reserveCapacity(n)
            signatures.reserveCapacity(n * sw)
            for _ in 0..<n {
                words.append(try r.u32())
                for _ in 0..<sw { signatures.append(UInt64(try r.u32()) | UInt64(try r.u32()) << 32) }
            }
            return QuantizedLayer(count: n, k: 1, signatureWords: sw, words: words,
                                  distances: [Float](repeating: 0, count: n), signatures: signatures)
        }
        return ImageGeometry(frames: frames, layers: quantized)
    }
}
