import Foundation

/// An advisory `flock(LOCK_EX | LOCK_NB)` on `<index>/writer.lock`, held while an
/// `IndexStore` is open for writing. flock locks belong to an open file
/// description, so a second open — in another process or in this one — fails
/// at once with `IndexError.busy` instead of queueing behind LMDB's writer mutex.
final class WriterLock {
    private let fd: Int32

    init(directory: URL) throws {
        let path = directory.appendingPathComponent("writer.lock").path
        let fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0o644)
        guard fd >= 0 else {
            let err = errno
            let why = "cannot open \(path): \(String(cString: strerror(err)))"
            let readOnly = err == EROFS || err == EACCES || err == EPERM
            throw readOnly ? IndexError.directoryNotWritable(why) : IndexError.busy(why)
        }
        if flock(fd, LOCK_EX | LOCK_NB) != 0 {
            let err = errno
            close(fd)
            if err == EWOULDBLOCK { throw IndexError.busy("another process is writing to this index") }
            throw IndexError.busy("cannot lock \(path): \(String(cString: strerror(err)))")
        }
        self.fd = fd
    }

    deinit {
        flock(fd, LOCK_UN)
        close(fd)
    }
}
