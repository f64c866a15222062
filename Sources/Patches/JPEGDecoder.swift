import TesseraCore
import CJPEG
import Foundation

/// Why an image file could not be used. Every case names the file.
public enum ImageDecodeError: Error, CustomStringConvertible, Equatable {
    case missing(String)
    case empty(String)
    case notJPEG(String)
    case truncated(String, String)
    case corrupt(String, String)
    case tooLarge(String, String)
    case tooSmall(String, Int, Int)
    case unsupported(String, String)

    public var description: String {
        switch self {
        case .missing(let p): return "\(p): no such file"
        case .empty(let p): return "\(p): empty file"
        case .notJPEG(let p): return "\(p): not a JPEG file"
        case .truncated(let p, let m): return "\(p): truncated JPEG (\(m))"
        case .corrupt(let p, let m): return "\(p): corrupt JPEG (\(m))"
        case .tooLarge(let p, let m): return "\(p): \(m)"
        case .tooSmall(let p, let w, let h): return "\(p): image of \(w)x\(h) pixels is too small to use"
        case .unsupported(let p, let m): return "\(p): \(m)"
        }
    }
}

/// JPEG files to upright RGB8 via libjpeg-turbo (grayscale and CMYK/YCCK converted, EXIF
/// orientation applied). Failures are typed errors, never crashes or hangs.
public enum JPEGDecoder {
    /// Files above this many pixels are refused (a 16k×16k photo is 268 Mpx).
    public static let defaultMaxPixels: Int64 = 300_000_000

    /// Decodes `url`. With `minLongSide` > 0, libjpeg may downscale in the DCT domain by 1/2,
    /// 1/4 or 1/8 while the longer side stays ≥ `minLongSide` (cheap and alias-free).
    public static func decode(_ url: URL, minLongSide: Int = 0,
                              maxPixels: Int64 = defaultMaxPixels) throws -> RGBImage {
        let path = url.path
        var isDir: ObjCBool = false
        guard FileManager.default.fileExists(atPath: path, isDirectory: &isDir), !isDir.boolValue else {
            throw ImageDecodeError.missing(path)
        }
        guard let data = try? Data(contentsOf: url) else { throw ImageDecodeError.missing(path) }
        return try decode(data, name: path, minLongSide: minLongSide, maxPixels: maxPixels)
    }

    public static func decode(_ data: Data, name: String, minLongSide: Int = 0,
                              maxPixels: Int64 = defaultMaxPixels) throws -> RGBImage {
        guard !data.isEmpty else { throw ImageDecodeError.empty(name) }
        var result = tessera_jpeg_image()
        let status = data.withUnsafeBytes { raw -> Int32 in
            tessera_jpeg_decode(raw.bindMemory(to: UInt8.self).baseAddress, raw.count, Int32(minLongSide),
                                maxPixels, &result)
        }
        defer { tessera_jpeg_free(&result) }
        let message = withUnsafeBytes(of: result.message) {
            String(decoding: $0.prefix(while: { $0 != 0 }), as: UTF8.self)
        }
        switch Int(status) {
        case Int(TESSERA_JPEG_OK): break
        case Int(TESSERA_JPEG_ERR_NOT_JPEG): throw ImageDecodeError.notJPEG(name)
        case Int(TESSERA_JPEG_ERR_TRUNCATED): throw ImageDecodeError.truncated(name, message)
        case Int(TESSERA_JPEG_ERR_TOO_LARGE): throw ImageDecodeError.tooLarge(name, message)
        case Int(TESSERA_JPEG_ERR_COLORSPACE): throw ImageDecodeError.unsupported(name, message)
        default:
            if message.contains("Premature end") { throw ImageDecodeError.truncated(name, message) }
            throw ImageDecodeError.corrupt(name, message)
        }
        let n = Int(result.width) * Int(result.height) * 3
        let pixels = Array(UnsafeBufferPointer(start: result.pixels, count: n))
        let image = RGBImage(width: Int(result.width), height: Int(result.height), pixels: pixels)
        return image.oriented(Int(result.orientation))
    }
}
