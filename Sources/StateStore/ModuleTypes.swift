/// Other modules reach this module's types through here: the module shares its name with the
/// class `StateStore`, so `StateStore.StoreCheck` would name a member of the class.
public enum StateStoreTypes {
    public typealias Check = StoreCheck
    public typealias Bundle = ExportBundle
    public typealias Error = StoreError
    public typealias FileWriteError = Files.WriteError
}
