import XCTest
final class PlaceholderFusionTests: XCTestCase { func testNothing() {} }
