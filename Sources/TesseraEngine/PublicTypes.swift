// The lower modules' types that the engine's public API takes and returns, re-exported so an
// application (and the CLI) imports TesseraEngine and TesseraCore only.
@_exported import struct Fusion.ScoringOptions
@_exported import struct Fusion.RerankOptions
@_exported import enum Fusion.RerankCombination
@_exported import enum Fusion.FusionRule
@_exported import enum GlobalDescriptors.GlobalPooling
@_exported import struct GlobalDescriptors.PCAWhitening
@_exported import struct GlobalDescriptors.WhiteningOptions
@_exported import enum GlobalDescriptors.WhiteningShrinkage
@_exported import struct Fusion.VerificationOptions
@_exported import struct Index.ImageRecord
@_exported import struct Index.IndexStats
@_exported import struct Index.IndexCheck
@_exported import struct Index.IndexMeta
@_exported import enum Index.IndexError
@_exported import struct Index.IndexStorageError
@_exported import struct Patches.PatchOptions
@_exported import enum Patches.ImageDecodeError
@_exported import enum Index.WriterLocking
@_exported import enum Patches.PatchMode
@_exported import struct Quantizer.Vocabulary
@_exported import struct Index.IndexStoreOptions
