import XCTest
final class PlaceholderPatchesTests: XCTestCase { func testNothing() {} }
