import TesseraCore
/// The values a torch state-dict pickle is made of.
indirect enum PickleValue {
    case none
    case bool(Bool)
    case int(Int)
    case bigInt([UInt8])                 // LONG1 payload, little-endian two's complement
    case float(Double)
    case string(String)
    case bytes([UInt8])
    case tuple([PickleValue])
    case list([PickleValue])
    case dict([(PickleValue, PickleValue)])
    case global(module: String, name: String)
    case persistent(PickleValue)         // a storage reference
    case tensor(TensorRef)
    case mark
}

/// `_rebuild_tensor_v2(storage, storage_offset, size, stride, ...)`.
struct TensorRef {
    var storageType: String
    var storageKey: String
    var storageOffset: Int
    var size: [Int]
    var stride: [Int]
}

/// A minimal pickle virtual machine: the opcodes of protocols 2–4 that `torch.save` emits
/// for state dicts. Anything else is a typed error, never a crash.
struct PickleReader {
    let bytes: UnsafeRawBufferPointer
    var offset: Int
    /// Element size per storage key, learned from the storage type names.
    var storageElementSizes: [String: Int] = [:]

    init(bytes: UnsafeRawBufferPointer, offset: Int) { self.bytes = bytes; self.offset = offset }

    private mutating func byte() throws -> UInt8 {
        guard offset < bytes.count else { throw TorchFileError.truncated("pickle at byte \(offset)") }
        defer { offset += 1 }
        return bytes[offset]
    }
    /// The next `n` bytes; `n` comes from the file, so it is checked against what is left
    /// (by subtraction: `offset + n` could overflow).
    private mutating func take(_ n: Int) throws -> [UInt8] {
        try skip(n)
        return Array(bytes[(offset - n)..<offset])
    }
    private mutating func skip(_ n: Int) throws {
        guard n >= 0, n <= bytes.count - offset else { throw TorchFileError.truncated("pickle at byte \(offset)") }
        offset += n
    }
    private mutating func uint(_ n: Int) throws -> Int {
        let b = try take(n)
        var v = 0
        for (i, x) in b.enumerated() { v |= Int(x) << (8 * i) }
        return v
    }
    private mutating func line() throws -> String {
        var out = [UInt8]()
        while true { let c = try byte(); if c == 0x0A { break }; out.append(c) }
        return String(decoding: out, as: UTF8.self)
    }

    /// Runs the VM until STOP and returns the top of the stack.
    mutating func load() throws -> PickleValue {
        var stack: [PickleValue] = []
        var memo: [Int: PickleValue] = [:]
        func pop() throws -> PickleValue {
            guard let v = stack.popLast() else { throw TorchFileError.malformedPickle("stack underflow") }
            return v
        }
        func popToMark() throws -> [PickleValue] {
            guard let m = stack.lastIndex(where: { if case .mark = $0 { return true }; return false }) else {
                throw TorchFileError.malformedPickle("missing MARK")
            }
            let items = Array(stack[(m + 1)...])
            stack.removeSubrange(m...)
            return items
        }
        func setItems(_ items: [PickleValue]) throws {
            guard case .dict(var d) = try pop() else {
                throw TorchFileError.malformedPickle("SETITEM(S) on a non-dict")
            }
            var i = 0
            while i + 1 < items.count { d.append((items[i], items[i + 1])); i += 2 }
            stack.append(.dict(d))
        }
        while true {
            let op = try byte()
            switch op {
            case 0x80: _ = try byte()                                   // PROTO
            case 0x95: try skip(8)                                      // FRAME
            case 0x2E: return try pop()                                 // STOP
            case 0x7D: stack.append(.dict([]))                          // EMPTY_DICT
            case 0x5D: stack.append(.list([]))                          // EMPTY_LIST
            case 0x29: stack.append(.tuple([]))                         // EMPTY_TUPLE
            case 0x28: stack.append(.mark)                              // MARK
            case 0x4E: stack.append(.none)                              // NONE
            case 0x88: stack.append(.bool(true))                        // NEWTRUE
            case 0x89: stack.append(.bool(false))                       // NEWFALSE
            case 0x4B: stack.append(.int(try uint(1)))                  // BININT1
            case 0x4D: stack.append(.int(try uint(2)))                  // BININT2
            case 0x4A: stack.append(.int(Int(Int32(truncatingIfNeeded: try uint(4)))))   // BININT
            case 0x8A:                                                  // LONG1
                let n = Int(try byte())
                let b = try take(n)
                if n <= 8 {
                    var v: Int64 = 0
                    for (i, x) in b.enumerated() { v |= Int64(x) << (8 * Int64(i)) }
                    if n > 0 && n < 8 && b[n - 1] & 0x80 != 0 { v -= Int64(1) << (8 * Int64(n)) }
                    stack.append(.int(Int(v)))
                } else { stack.append(.bigInt(b)) }
            case 0x47:                                                  // BINFLOAT
                let b = try take(8)
                var bits: UInt64 = 0
                for x in b { bits = bits << 8 | UInt64(x) }
                stack.append(.float(Double(bitPattern: bits)))
            case 0x58: stack.append(.string(String(decoding: try take(try uint(4)), as: UTF8.self)))   // BINUNICODE
            case 0x8C:                                                  // SHORT_BINUNICODE
                stack.append(.string(String(decoding: try take(try uint(1)), as: UTF8.self)))
            case 0x8D: stack.append(.string(String(decoding: try take(try uint(8)), as: UTF8.self)))   // BINUNICODE8
            case 0x55:                                                  // SHORT_BINSTRING
                stack.append(.string(String(decoding: try take(try uint(1)), as: UTF8.self)))
            case 0x54: stack.append(.string(String(decoding: try take(try uint(4)), as: UTF8.self)))   // BINSTRING
            case 0x43: stack.append(.bytes(try take(try uint(1))))      // SHORT_BINBYTES
            case 0x42: stack.append(.bytes(try take(try uint(4))))      // BINBYTES
            case 0x71: memo[try uint(1)] = stack.last                   // BINPUT
            case 0x72: memo[try uint(4)] = stack.last                   // LONG_BINPUT
            case 0x94: memo[memo.count] = stack.last                    // MEMOIZE
            case 0x68, 0x6A:                                            // BINGET, LONG_BINGET
                let k = try uint(op == 0x68 ? 1 : 4)
                guard let v = memo[k] else { throw TorchFileError.malformedPickle("memo \(k) unset") }
                stack.append(v)
            case 0x74: stack.append(.tuple(try popToMark()))            // TUPLE
            case 0x85: stack.append(.tuple([try pop()]))                // TUPLE1
            case 0x86: let b = try pop(); let a = try pop(); stack.append(.tuple([a, b]))               // TUPLE2
            case 0x87:                                                  // TUPLE3
                let c = try pop()
                let b = try pop()
                let a = try pop()
                stack.append(.tuple([a, b, c]))
            case 0x61:                                                  // APPEND
                let v = try pop()
                guard case .list(var l) = try pop() else { throw TorchFileError.malformedPickle("APPEND") }
                l.append(v); stack.append(.list(l))
            case 0x65:                                                  // APPENDS
                let items = try popToMark()
                guard case .list(var l) = try pop() else { throw TorchFileError.malformedPickle("APPENDS") }
                l.append(contentsOf: items); stack.append(.list(l))
            case 0x73: let v = try pop(); let k = try pop(); try setItems([k, v])                       // SETITEM
            case 0x75: try setItems(try popToMark())                    // SETITEMS
            case 0x63:                                                  // GLOBAL
                let module = try line(); let name = try line()
                stack.append(.global(module: module, name: name))
            case 0x93:                                                  // STACK_GLOBAL
                guard case .string(let name) = try pop(), case .string(let module) = try pop() else {
                    throw TorchFileError.malformedPickle("STACK_GLOBAL")
                }
                stack.append(.global(module: module, name: name))
            case 0x51: stack.append(.persistent(try pop()))             // BINPERSID
            case 0x52, 0x81:                                            // REDUCE, NEWOBJ
                let args = try pop()
                let callable = try pop()
                stack.append(try reduce(callable, args))
            case 0x62: _ = try pop()                                    // BUILD: state ignored (e.g. _metadata)
            default:
                throw TorchFileError.malformedPickle(
                    String(format: "unsupported opcode 0x%02x at byte %d", op, offset - 1))
            }
        }
    }

    /// Applies the few callables torch state dicts use.
    private mutating func reduce(_ callable: PickleValue, _ args: PickleValue) throws -> PickleValue {
        guard case .global(let module, let name) = callable, case .tuple(let a) = args else {
            throw TorchFileError.malformedPickle("REDUCE on \(callable)")
        }
        switch (module, name) {
        case ("collections", "OrderedDict"):
            return .dict([])
        case ("torch._utils", "_rebuild_tensor_v2"), ("torch._utils", "_rebuild_tensor"):
            guard a.count >= 4, case .persistent(.tuple(let pid)) = a[0], pid.count >= 3,
                  case .global(_, let storageType) = pid[1], case .string(let key) = pid[2],
                  case .int(let off) = a[1], case .tuple(let sz) = a[2], case .tuple(let st) = a[3] else {
                throw TorchFileError.malformedPickle("tensor record")
            }
            let size = try sz.map { v -> Int in
                guard case .int(let i) = v else { throw TorchFileError.malformedPickle("size") }
                return i
            }
            let stride = try st.map { v -> Int in
                guard case .int(let i) = v else { throw TorchFileError.malformedPickle("stride") }
                return i
            }
            guard size.count == stride.count else { throw TorchFileError.malformedPickle("size/stride rank") }
            storageElementSizes[key] = PickleReader.elementSize(storageType)
            return .tensor(TensorRef(storageType: storageType, storageKey: key, storageOffset: off,
                                     size: size, stride: stride))
        default:
            // Unknown callables (e.g. metadata helpers) become opaque values.
            return .tuple(a)
        }
    }

    static func elementSize(_ storageType: String) -> Int {
        switch storageType {
        case "DoubleStorage", "LongStorage": return 8
        case "FloatStorage", "IntStorage": return 4
        case "HalfStorage", "ShortStorage", "BFloat16Storage": return 2
        case "ByteStorage", "CharStorage", "BoolStorage": return 1
        default: return 4
        }
    }
}
