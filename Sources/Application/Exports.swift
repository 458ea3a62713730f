import Foundation
import StateStore

// Value types of the state store that front ends render. They are named here so a front end
// depends on the application layer only.
public typealias StoreCheck = StateStoreTypes.Check
public typealias ExportBundle = StateStoreTypes.Bundle
public typealias StoreError = StateStoreTypes.Error
public typealias FileWriteError = StateStoreTypes.FileWriteError

/// Files a command writes for the person: replaced only when they are regular files, written
/// through when they are devices or FIFOs, refused when they are folders.
public enum OutputFile {
    public static func write(_ data: Data, to path: String) throws {
        try Files.writeOutput(data, to: path)
    }
}
