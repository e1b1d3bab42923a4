using Hounsfield.Archive.Blobs;
using Hounsfield.Archive.Index;

namespace Hounsfield.Archive.Ingest;

/// <summary>An instance streamed to a temporary blob and parsed, not yet durable, visible or indexed.</summary>
internal sealed record ReceivedInstance(ITemporaryBlob Temporary, InstanceRecord Record);
