/// JobCast's queue names, as the wire contract fixes them.
public enum QueueNames {
    /// The topic exchange producers publish postings to (routing key `posting.<action>`).
    public static let postingsExchange = "jobcast.postings"
    /// The exchange dead letters go through, routed by channel name to `jobcast.<channel>.dead`.
    public static let deadLetterExchange = "jobcast.dlx"

    public static func channel(_ channel: DeliveryChannel) -> String { "jobcast.\(channel.rawValue)" }
    /// A retry queue holds messages for `delaySeconds` and then hands them back to the channel queue. The
    /// delay is in the name, so that changing `JOBCAST_RETRY_DELAYS` makes new queues instead of clashing
    /// with the old ones (which drain back into the channel queue by themselves).
    public static func retry(_ channel: DeliveryChannel, delaySeconds: Int) -> String { "jobcast.\(channel.rawValue).retry.\(delaySeconds)s" }
    public static func dead(_ channel: DeliveryChannel) -> String { "jobcast.\(channel.rawValue).dead" }
    /// A schedule queue holds a posting whose `publishAt` is ahead for `delaySeconds`, then hands it back to the
    /// channel queue, where a worker parks it again in the queue the rest of the wait calls for.
    public static func scheduled(_ channel: DeliveryChannel, delaySeconds: Int) -> String { "jobcast.\(channel.rawValue).scheduled.\(delaySeconds)s" }

    /// The channel a queue belongs to, if it is one of JobCast's.
    public static func channel(ofQueue name: String) -> DeliveryChannel? {
        DeliveryChannel.allCases.first { name == channel($0) || name.hasPrefix(channel($0) + ".") }
    }
}
