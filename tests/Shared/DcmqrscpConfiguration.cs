namespace Hounsfield.Testing;

/// <summary>A configuration file for DCMTK's dcmqrscp: one AE title with its own database folder, and one known peer.</summary>
public static class DcmqrscpConfiguration
{
    /// <summary>
    /// Writes <c>dcmqrscp.cfg</c> and the database folder <c>db</c> into <paramref name="folder"/> for an SCP on
    /// <paramref name="port"/> with AE title <paramref name="aeTitle"/>; <paramref name="peer"/> is the host table's one
    /// entry (dcmqrscp delivers C-MOVEs only to the AE titles of its host table). Returns the file's path.
    /// </summary>
    public static async Task<string> WriteAsync(string folder, int port, string aeTitle, (string Name, string AETitle, int Port) peer)
    {
        var database = Directory.CreateDirectory(Path.Combine(folder, "db")).FullName;
        var path = Path.Combine(folder, "dcmqrscp.cfg");
        await File.WriteAllTextAsync(path, $"""
            NetworkTCPPort  = {port}
            MaxPDUSize      = 16384
            MaxAssociations = 16

            HostTable BEGIN
            {peer.Name} = ({peer.AETitle}, 127.0.0.1, {peer.Port})
            HostTable END

            VendorTable BEGIN
            VendorTable END

            AETable BEGIN
            {aeTitle} {database} RW (200, 1024mb) ANY
            AETable END
            """);
        return path;
    }
}
