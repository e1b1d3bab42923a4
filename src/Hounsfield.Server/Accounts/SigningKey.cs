using System.Security.Cryptography;
using System.Text;

namespace Hounsfield.Server.Accounts;

/// <summary>The JWT signing key: from `Auth:SigningKey`, else generated once and kept in the data folder, readable by the owner only.</summary>
internal static class SigningKey
{
    public const string FileName = "auth-signing.key";

    public static byte[] Load(AccountOptions options, string dataDirectory)
    {
        if (!string.IsNullOrEmpty(options.SigningKey))
        {
            var configured = Encoding.UTF8.GetBytes(options.SigningKey);
            return configured.Length >= 32
                ? configured
                : throw new AccountSettingsException("Auth:SigningKey must be at least 32 bytes long.");
        }

        var path = Path.Combine(dataDirectory, FileName);
        for (var attempt = 0; ; attempt++)
        {
            try
            {
                return ReadKeyFile(path);
            }
            catch (FileNotFoundException)
            {
            }

            try
            {
                var generated = RandomNumberGenerator.GetBytes(64);
                var fileOptions = new FileStreamOptions { Mode = FileMode.CreateNew, Access = FileAccess.Write };
                if (!OperatingSystem.IsWindows())
                {
                    fileOptions.UnixCreateMode = UnixFileMode.UserRead | UnixFileMode.UserWrite;
                }

                // Written under a temporary name and linked into place, so that a node starting at the same moment never reads half a key.
                var temporary = $"{path}.{Environment.ProcessId}.tmp";
                using (var stream = new FileStream(temporary, fileOptions))
                {
                    stream.Write(Encoding.ASCII.GetBytes(Convert.ToBase64String(generated)));
                    stream.Flush(flushToDisk: true);
                }

                try
                {
                    File.Move(temporary, path, overwrite: false);
                    return generated;
                }
                catch (IOException) when (File.Exists(path) && attempt < 3)
                {
                    File.Delete(temporary);
                }
            }
            catch (IOException) when (File.Exists(path) && attempt < 3)
            {
            }
        }
    }

    private static byte[] ReadKeyFile(string path)
    {
        byte[] key;
        try
        {
            key = Convert.FromBase64String(File.ReadAllText(path).Trim());
        }
        catch (FormatException)
        {
            throw new AccountSettingsException($"{path} does not hold a base64 signing key; remove it to generate a new one (every issued token becomes invalid).");
        }

        return key.Length >= 32 ? key : throw new AccountSettingsException($"{path} holds a signing key shorter than 32 bytes.");
    }
}
