using System.Globalization;
using System.Security.Cryptography;
using System.Text;

namespace Hounsfield.Server.Accounts;

/// <summary>
/// Salted PBKDF2-HMAC-SHA256 password hashes, stored as `pbkdf2-sha256$&lt;iterations&gt;$&lt;salt b64&gt;$&lt;hash b64&gt;`
/// so that the iteration count can grow without invalidating stored hashes.
/// </summary>
internal sealed class PasswordHasher(int iterations)
{
    private const string Algorithm = "pbkdf2-sha256";
    private const int SaltLength = 16;
    private const int HashLength = 32;

    // Verified against when the account does not exist, so that an unknown email costs as much time as a wrong password.
    private readonly Lazy<string> decoy = new(() => new PasswordHasher(iterations).Hash(Convert.ToBase64String(RandomNumberGenerator.GetBytes(18))));

    public string Hash(string password)
    {
        var salt = RandomNumberGenerator.GetBytes(SaltLength);
        var hash = Rfc2898DeriveBytes.Pbkdf2(Encoding.UTF8.GetBytes(password), salt, iterations, HashAlgorithmName.SHA256, HashLength);
        return string.Create(CultureInfo.InvariantCulture, $"{Algorithm}${iterations}${Convert.ToBase64String(salt)}${Convert.ToBase64String(hash)}");
    }

    public bool Verify(string password, string stored)
    {
        var parts = stored.Split('$');
        if (parts.Length != 4 || parts[0] != Algorithm
            || !int.TryParse(parts[1], NumberStyles.None, CultureInfo.InvariantCulture, out var storedIterations) || storedIterations < 1)
        {
            return false;
        }

        byte[] salt, expected;
        try
        {
            salt = Convert.FromBase64String(parts[2]);
            expected = Convert.FromBase64String(parts[3]);
        }
        catch (FormatException)
        {
            return false;
        }

        var actual = Rfc2898DeriveBytes.Pbkdf2(Encoding.UTF8.GetBytes(password), salt, storedIterations, HashAlgorithmName.SHA256, expected.Length);
        return CryptographicOperations.FixedTimeEquals(actual, expected);
    }

    /// <summary>Spends the time of one verification and fails: for logins naming no account.</summary>
    public bool VerifyNothing(string password)
    {
        Verify(password, decoy.Value);
        return false;
    }
}
