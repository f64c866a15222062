// libFuzzer harness of the query server's multipart/form-data parser
// (Sources/TesseraServer/MultipartForm.swift): the first line of the input is the Content-Type,
// the rest the body. Any error is fine; a trap, a hang or an unbounded allocation is a finding.
// Built and run by scripts/fuzz.sh multipart.
import Foundation

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzMultipart(_ data: UnsafePointer<UInt8>, _ size: Int) -> Int32 {
    let bytes = Array(UnsafeBufferPointer(start: data, count: size))
    let split = bytes.firstIndex(of: 0x0A) ?? bytes.count
    let contentType = String(decoding: bytes[0..<split], as: UTF8.self)
    let body = Data(bytes[min(split + 1, bytes.count)...])
    if let boundary = try? MultipartForm.boundary(contentType: contentType),
       let form = try? MultipartForm(body: body, boundary: boundary) {
        _ = form.file(named: "image")?.data.count
    }
    return 0
}
