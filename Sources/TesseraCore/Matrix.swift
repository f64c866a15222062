/// A dense row-major matrix of `Float`: element (r, c) is element `r * cols + c` of its storage.
///
/// This is the one data layout of the whole library (as in faiss): n descriptors of
/// dimension d are an n×d `Matrix`, one descriptor per row.
///
/// The storage is either an owned `[Float]` or a read-only view into a ``MappedFile`` (see
/// ``init(rows:cols:mapping:byteOffset:)``; the view keeps the mapping alive). Either way the
/// matrix is a value: equality compares shapes and elements, and the first mutation of a
/// mapped matrix copies it into owned storage (copy-on-write), so nothing writes into a
/// mapping. Read the elements with ``withUnsafeBufferPointer(_:)``, which never copies;
/// ``data`` copies a mapped matrix each time it is read.
public struct Matrix: Equatable, Sendable {
    public var rows: Int
    public var cols: Int
    /// Owned elements; empty while `mapped` is set.
    @usableFromInline var owned: [Float]
    /// Mapped elements, or nil when the matrix owns its storage.
    @usableFromInline var mapped: MappedFloats?

    public init(rows: Int, cols: Int, data: [Float]) {
        precondition(data.count == rows * cols, "Matrix: \(data.count) values for \(rows)x\(cols)")
        self.rows = rows
        self.cols = cols
        self.owned = data
        self.mapped = nil
    }

    public init(rows: Int, cols: Int, repeating value: Float = 0) {
        self.init(rows: rows, cols: cols, data: [Float](repeating: value, count: rows * cols))
    }

    /// A rows×cols matrix read in place from `file` at `byteOffset`: host-order `Float`s,
    /// `byteOffset` within the file and the address aligned for `Float`. No copy is made; the
    /// matrix keeps `file` (and so the mapping) alive.
    public init(rows: Int, cols: Int, mapping file: MappedFile, byteOffset: Int) {
        let count = rows * cols
        precondition(rows >= 0 && cols >= 0 && byteOffset >= 0 && byteOffset + 4 * count <= file.bytes.count,
                     "Matrix: \(rows)x\(cols) floats at byte \(byteOffset) run past the "
                         + "\(file.bytes.count)-byte file \(file.path)")
        self.rows = rows
        self.cols = cols
        self.owned = []
        guard count > 0, let base = file.bytes.baseAddress else { self.mapped = nil; return }
        let p = base + byteOffset
        precondition(Int(bitPattern: p) % MemoryLayout<Float>.alignment == 0,
                     "Matrix: mapped floats at a misaligned address")
        self.mapped = MappedFloats(file: file, base: p.assumingMemoryBound(to: Float.self), count: count)
    }

    /// Whether the elements are read in place from a ``MappedFile`` (false once mutated).
    public var isMapped: Bool { mapped != nil }

    /// The file the elements are read from, nil when the matrix owns its storage.
    public var mappedFile: MappedFile? { mapped?.file }

    /// The elements, row-major. Reading it copies a mapped matrix (use
    /// ``withUnsafeBufferPointer(_:)`` in hot paths); mutating it makes the storage owned first.
    public var data: [Float] {
        get { mapped.map { Array($0.buffer) } ?? owned }
        _modify { makeOwned(); yield &owned }
        set { mapped = nil; owned = newValue }
    }

    /// Calls `body` with the elements (row-major), in place: no copy, owned or mapped.
    @inlinable
    public func withUnsafeBufferPointer<R>(_ body: (UnsafeBufferPointer<Float>) throws -> R) rethrows -> R {
        if let m = mapped { return try withExtendedLifetime(m.file) { try body(m.buffer) } }
        return try owned.withUnsafeBufferPointer(body)
    }

    /// Calls `body` with the elements for writing; a mapped matrix is first copied into owned storage.
    @inlinable
    public mutating func withUnsafeMutableBufferPointer<R>(
        _ body: (inout UnsafeMutableBufferPointer<Float>) throws -> R
    ) rethrows -> R {
        try data.withUnsafeMutableBufferPointer(body)
    }

    @usableFromInline mutating func makeOwned() {
        guard let m = mapped else { return }
        owned = Array(m.buffer)
        mapped = nil
    }

    @inlinable
    public subscript(r: Int, c: Int) -> Float {
        get {
            if let m = mapped { return m.buffer[r * cols + c] }
            return owned[r * cols + c]
        }
        set {
            makeOwned()
            owned[r * cols + c] = newValue
        }
    }

    /// A copy of row `r`.
    public func row(_ r: Int) -> [Float] {
        withUnsafeBufferPointer { Array($0[(r * cols)..<((r + 1) * cols)]) }
    }

    /// Rows `indices`, in that order, as a new (owned) matrix.
    public func rows(_ indices: [Int]) -> Matrix {
        var out = [Float]()
        out.reserveCapacity(indices.count * cols)
        withUnsafeBufferPointer { p in
            for r in indices { out.append(contentsOf: p[(r * cols)..<((r + 1) * cols)]) }
        }
        return Matrix(rows: indices.count, cols: cols, data: out)
    }

    /// Appends the rows of `other` (same number of columns).
    public mutating func append(rowsOf other: Matrix) {
        if rows == 0 && cols == 0 { cols = other.cols }
        precondition(other.cols == cols, "Matrix.append: \(other.cols) columns, expected \(cols)")
        other.withUnsafeBufferPointer { data.append(contentsOf: $0) }
        rows += other.rows
    }

    public static func == (a: Matrix, b: Matrix) -> Bool {
        a.rows == b.rows && a.cols == b.cols
            && a.withUnsafeBufferPointer { x in b.withUnsafeBufferPointer { y in x.elementsEqual(y) } }
    }
}

/// A read-only run of `Float`s inside a ``MappedFile``, which it keeps alive.
@usableFromInline struct MappedFloats: @unchecked Sendable {
    @usableFromInline let file: MappedFile
    @usableFromInline let base: UnsafePointer<Float>
    @usableFromInline let count: Int
    @usableFromInline init(file: MappedFile, base: UnsafePointer<Float>, count: Int) {
        self.file = file; self.base = base; self.count = count
    }
    @inlinable var buffer: UnsafeBufferPointer<Float> { UnsafeBufferPointer(start: base, count: count) }
}
