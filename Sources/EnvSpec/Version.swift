public enum DevstackVersion {
    public static let current = "0.1.0"
}
