import XCTest
final class PlaceholderIndexTests: XCTestCase { func testNothing() {} }
