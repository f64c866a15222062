import TesseraCore

/// How an `IndexStore` opens its LMDB environment.
public struct IndexStoreOptions: Sendable {
    /// Initial LMDB map size in bytes; doubled whenever a write runs out of room (default 64 MiB).
    public var initialMapSize: Int = 64 << 20
    /// Map growth stops here (default 1 TiB of address space, not disk).
    public var maxMapSize: Int = 1 << 40
    /// Open without the writer lock; writes then throw `IndexError.readOnly` (default false).
    public var readOnly: Bool = false
    /// When a store open for writing holds `writer.lock` (default: while it is open).
    public var writerLocking: WriterLocking = .whileOpen

    public init(initialMapSize: Int = 64 << 20, maxMapSize: Int = 1 << 40, readOnly: Bool = false,
                writerLocking: WriterLocking = .whileOpen) {
        self.initialMapSize = initialMapSize; self.maxMapSize = maxMapSize; self.readOnly = readOnly
        self.writerLocking = writerLocking
    }
}

/// When an `IndexStore` open for writing holds `writer.lock`, the advisory lock that keeps
/// two processes from writing one index.
public enum WriterLocking: Sendable {
    /// From open to close: a second writer fails at once (`tessera index add`).
    case whileOpen
    /// During each write only: a long-running process (the query server) lets another process
    /// write between its own writes, and sees those writes in its next snapshot.
    case perWrite
}

/// What `IndexStore.add` did with one input image.
public enum AddOutcome: Equatable, Sendable {
    /// Indexed under this new id.
    case added(ImageID)
    /// Skipped: an image with the same content hash is already indexed (or earlier in the batch) under this id.
    case duplicate(of: ImageID)

    /// The id the image's content is indexed under, new or existing.
    public var id: ImageID {
        switch self { case .added(let i), .duplicate(let i): return i }
    }
}
