namespace Hounsfield.Server.Developer;

/// <summary>
/// Endpoint metadata marking a developer service whose calls count against the monthly quota.
/// <see cref="Path"/> is the documented path named in the 429 body, e.g. "/api/dicom/read/file/".
/// </summary>
internal sealed record MeteredEndpoint(string Path);
