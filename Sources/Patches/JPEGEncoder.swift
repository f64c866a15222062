import CJPEG
import Foundation

/// RGB8 images to baseline JPEG via libjpeg-turbo (thumbnails for the query server).
public enum JPEGEncoder {
    /// Why an image could not be encoded (libjpeg's message, or a size it refuses).
    public struct EncodeError: Error, CustomStringConvertible {
        public var description: String
    }

    /// Encodes `image` at `quality` (1…100).
    public static func encode(_ image: RGBImage, quality: Int = 80) throws -> Data {
        var out: UnsafeMutablePointer<UInt8>?
        var size: UInt = 0
        var message = [CChar](repeating: 0, count: 256)
        let status = image.pixels.withUnsafeBufferPointer { px in
            tessera_jpeg_encode(px.baseAddress, Int32(image.width), Int32(image.height), Int32(quality),
                                &out, &size, &message)
        }
        defer { free(out) }
        guard status == Int32(TESSERA_JPEG_OK), let out else {
            throw EncodeError(description: "JPEG encoding failed: "
                                + String(decoding: message.prefix(while: { $0 != 0 }).map { UInt8(bitPattern: $0) },
                                         as: UTF8.self))
        }
        return Data(bytes: out, count: Int(size))
    }

    /// The image scaled down (never up) so its longer side is at most `longSide`, encoded.
    public static func thumbnail(_ image: RGBImage, longSide: Int, quality: Int = 80) throws -> Data {
        let scale = min(1, Double(longSide) / Double(max(image.width, image.height)))
        let small = scale < 1
            ? image.resized(width: max(1, Int((Double(image.width) * scale).rounded())),
                            height: max(1, Int((Double(image.height) * scale).rounded())))
            : image
        return try encode(small, quality: quality)
    }
}
