import TesseraCore

/// The space in which query and database global descriptors are compared (METHOD.md §5): an
/// optional PCA-whitening, applied to both sides, and the database's descriptors in that space,
/// optionally augmented by their neighbours (DBA). Built once per snapshot, so the choice of
/// whitening and DBA is made in one place and the query always lands in the database's space.
public struct GlobalSpace: Sendable {
    /// The whitening applied to both sides; nil compares descriptors as extracted.
    public let whitening: PCAWhitening?
    /// Database descriptors in this space, row = image id (zero rows for absent images).
    public let database: Matrix
    /// Neighbours of database-side augmentation (0 = none).
    public let databaseAugmentation: Int

    /// `rows` holds each database image's descriptor as extracted (L2-normalised, all of one
    /// dimension); ids not below `bound` are ignored, an empty descriptor leaves its row zero.
    public init(rows: [(id: ImageID, descriptor: [Float])], bound: Int, whitening: PCAWhitening?,
                databaseAugmentation: Int = 0) throws {
        let present = rows.filter { Int($0.id) < bound && !$0.descriptor.isEmpty }
        let rawDim = present.first?.descriptor.count ?? 0
        if let bad = present.first(where: { $0.descriptor.count != rawDim }) {
            throw GlobalDescriptorError.dimensionMismatch(expected: rawDim, got: bad.descriptor.count)
        }
        // Whitened all at once (one SGEMM), then placed at their ids.
        let raw = Matrix(rows: present.count, cols: rawDim, data: present.flatMap(\.descriptor))
        let inSpace = present.isEmpty ? Matrix(rows: 0, cols: whitening?.outputDimension ?? 0)
                                      : try whitening?.apply(rows: raw) ?? raw
        var m = Matrix(rows: bound, cols: inSpace.cols)
        for (i, r) in present.enumerated() {
            for c in 0..<inSpace.cols { m[Int(r.id), c] = inSpace[i, c] }
        }
        self.whitening = whitening
        self.databaseAugmentation = databaseAugmentation
        self.database = databaseAugmentation > 0 ? GlobalSearch.databaseAugmentation(m, n: databaseAugmentation) : m
    }

    /// The query's descriptor in this space (whitened like the database, L2-normalised).
    public func embed(_ descriptor: [Float]) throws -> [Float] {
        let v = try whitening?.apply(descriptor) ?? descriptor
        guard v.count == database.cols else {
            throw GlobalDescriptorError.dimensionMismatch(expected: database.cols, got: v.count)
        }
        return v
    }

    /// Cosines of an embedded query with every database row (index = image id).
    public func cosines(_ query: [Float]) throws -> [Float] {
        try GlobalSearch.cosines(query: query, database: database)
    }

    /// Cosines of an embedded query with the rows `ids`, in that order (0 for an id with no row).
    public func cosines(_ query: [Float], ids: [ImageID]) throws -> [Float] {
        try GlobalSearch.cosines(query: query, database: database, ids: ids)
    }

    /// α-query expansion of an embedded query over `neighbours` (image, cosine), best first.
    public func expand(_ query: [Float], neighbours: [(ImageID, Float)], n: Int) throws -> [Float] {
        try GlobalSearch.alphaQueryExpansion(query: query, neighbours: neighbours, database: database, n: n)
    }
}
