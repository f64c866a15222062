/// A dense row-major matrix of `Float`: element (r, c) lives at `data[r * cols + c]`.
///
/// This is the one data layout of the whole library (as in faiss): n descriptors of
/// dimension d are an n×d `Matrix`, one descriptor per row.
public struct Matrix: Equatable, Sendable {
    public var rows: Int
    public var cols: Int
    public var data: [Float]

    public init(rows: Int, cols: Int, data: [Float]) {
        precondition(data.count == rows * cols, "Matrix: \(data.count) values for \(rows)x\(cols)")
        self.rows = rows
        self.cols = cols
        self.data = data
    }

    public init(rows: Int, cols: Int, repeating value: Float = 0) {
        self.init(rows: rows, cols: cols, data: [Float](repeating: value, count: rows * cols))
    }

    public subscript(r: Int, c: Int) -> Float {
        get { data[r * cols + c] }
        set { data[r * cols + c] = newValue }
    }

    /// A copy of row `r`.
    public func row(_ r: Int) -> [Float] { Array(data[(r * cols)..<((r + 1) * cols)]) }

    /// Rows `indices`, in that order, as a new matrix.
    public func rows(_ indices: [Int]) -> Matrix {
        var out = [Float]()
        out.reserveCapacity(indices.count * cols)
        for r in indices { out.append(contentsOf: data[(r * cols)..<((r + 1) * cols)]) }
        return Matrix(rows: indices.count, cols: cols, data: out)
    }

    /// Appends the rows of `other` (same number of columns).
    public mutating func append(rowsOf other: Matrix) {
        if rows == 0 && cols == 0 { cols = other.cols }
        precondition(other.cols == cols, "Matrix.append: \(other.cols) columns, expected \(cols)")
        data.append(contentsOf: other.data)
        rows += other.rows
    }
}
