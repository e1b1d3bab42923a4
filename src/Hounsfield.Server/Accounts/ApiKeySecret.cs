using System.Security.Cryptography;
using System.Text;

namespace Hounsfield.Server.Accounts;

/// <summary>
/// API keys `&lt;8-char prefix&gt;.&lt;32-char secret&gt;` of letters and digits. The prefix finds the row; the secret (~190 random bits)
/// is stored only as HMAC-SHA256 under a per-key salt — a slow KDF buys nothing against a secret of that entropy and
/// would cost every request.
/// </summary>
internal static class ApiKeySecret
{
    public const int PrefixLength = 8;
    public const int SecretLength = 32;
    private const string Alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";

    public static (string Prefix, string Secret) Generate() =>
        (RandomNumberGenerator.GetString(Alphabet, PrefixLength), RandomNumberGenerator.GetString(Alphabet, SecretLength));

    public static byte[] NewSalt() => RandomNumberGenerator.GetBytes(16);

    public static byte[] Hash(string secret, byte[] salt) => HMACSHA256.HashData(salt, Encoding.ASCII.GetBytes(secret));

    public static bool Matches(string secret, byte[] salt, byte[] storedHash) => CryptographicOperations.FixedTimeEquals(Hash(secret, salt), storedHash);

    /// <summary>Splits a presented key; false unless it has exactly the shape we issue.</summary>
    public static bool TryParse(string presented, out string prefix, out string secret)
    {
        prefix = secret = string.Empty;
        if (presented.Length != PrefixLength + 1 + SecretLength || presented[PrefixLength] != '.')
        {
            return false;
        }

        prefix = presented[..PrefixLength];
        secret = presented[(PrefixLength + 1)..];
        return prefix.All(char.IsAsciiLetterOrDigit) && secret.All(char.IsAsciiLetterOrDigit);
    }
}
