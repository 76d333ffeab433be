import Foundation

/// A delivery channel: the name in queue names, store rows, metrics labels and `jobcast stats`.
public enum DeliveryChannel: String, Sendable, Codable, CaseIterable, Comparable {
    /// The smart-employment platform (昆明智慧就业信息平台).
    case platform
    /// The WeChat public account (昆明市劳动就业服务局微信公众号).
    case wechat

    public static func < (lhs: Self, rhs: Self) -> Bool {
        allCases.firstIndex(of: lhs)! < allCases.firstIndex(of: rhs)!
    }
}
