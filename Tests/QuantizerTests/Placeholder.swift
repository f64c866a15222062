import XCTest
final class PlaceholderQuantizerTests: XCTestCase { func testNothing() {} }
