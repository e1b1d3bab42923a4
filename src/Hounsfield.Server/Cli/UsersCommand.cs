using System.Globalization;
using Hounsfield.Server.Accounts;

namespace Hounsfield.Server.Cli;

/// <summary>
/// `hounsfield users role EMAIL ROLE` and `hounsfield users quota EMAIL N|default`: an operator's changes to an account,
/// made in the database the servers share, so they take effect on running servers at their next request.
/// </summary>
internal static class UsersCommand
{
    public const string UsageLines = """
          users role EMAIL admin|user|readonly|none [--data DIR]   set an account's role
          users quota EMAIL N|default [--data DIR]                  set a developer's monthly quota per metered endpoint
        """;

    public static async Task<int> RunAsync(string[] args)
    {
        var arguments = CommandArguments.Parse(args, $"usage:\n{UsageLines}", ["--data"]);
        var data = arguments.Value("--data") ?? "data";
        var positional = arguments.Operands;
        var database = Path.Combine(Path.GetFullPath(data), "index.db");
        if (positional.Count != 3 || positional[0] is not ("role" or "quota"))
        {
            return CommandLine.Fail($"users: expected 'role EMAIL ROLE' or 'quota EMAIL N|default'\nusage:\n{UsageLines}", 2);
        }

        if (!File.Exists(database))
        {
            return CommandLine.Fail($"users: no database at {database} (start `serve` once, or give --data)", 1);
        }

        var store = new SqliteAccountStore(database);
        await store.InitializeAsync(CancellationToken.None);
        var email = AccountEndpoints.NormalizeEmail(positional[1]);
        var user = await store.FindUserByEmailAsync(email, CancellationToken.None);
        if (user is null)
        {
            return CommandLine.Fail($"users: no account {email}", 1);
        }

        var value = positional[2];
        if (positional[0] == "role")
        {
            if (!Roles.All.Contains(value, StringComparer.Ordinal))
            {
                return CommandLine.Fail($"users: unknown role '{value}' (admin, user, readonly, none)", 2);
            }

            await store.SetRoleAsync(user.Id, value, CancellationToken.None);
            Console.Out.WriteLine($"{email}: role {value}");
            return 0;
        }

        int? quota = null;
        if (value != "default")
        {
            if (!int.TryParse(value, NumberStyles.None, CultureInfo.InvariantCulture, out var parsed))
            {
                return CommandLine.Fail($"users: quota must be a whole number or 'default', not '{value}'", 2);
            }

            quota = parsed;
        }

        if (await store.GetProfileAsync(user.Id, CancellationToken.None) is null)
        {
            return CommandLine.Fail($"users: {email} has no developer profile", 1);
        }

        await store.SetProfileQuotaAsync(user.Id, quota, CancellationToken.None);
        Console.Out.WriteLine($"{email}: monthly quota {(quota is { } q ? q.ToString(CultureInfo.InvariantCulture) : "default")}");
        return 0;
    }
}
