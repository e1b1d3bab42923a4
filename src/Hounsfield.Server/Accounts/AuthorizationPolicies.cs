namespace Hounsfield.Server.Accounts;

/// <summary>The authorization policy names every endpoint uses. Roles: admin ⊃ user (read/write) ⊃ readonly; developer comes from a profile.</summary>
internal static class AuthorizationPolicies
{
    /// <summary>Any authenticated account, readonly included: queries and retrieves.</summary>
    public const string Read = "read";

    /// <summary>Accounts with the user or admin role: stores, updates, deletes, sends.</summary>
    public const string Write = "write";

    /// <summary>Admins only: users, DICOM node configuration.</summary>
    public const string Admin = "admin";

    /// <summary>Accounts with a developer profile: the metered DICOM services.</summary>
    public const string Developer = "developer";
}
