/// JobCast's version: `jobcast --version`, each worker's heartbeat (the fleet view) and its logs.
public enum JobCastVersion {
    public static let current = "0.4.0"
}
