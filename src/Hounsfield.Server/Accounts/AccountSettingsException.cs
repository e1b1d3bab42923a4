namespace Hounsfield.Server.Accounts;

/// <summary>A setting of accounts (signing key, first admin, registration role) that cannot work; `serve` stops with its message.</summary>
internal sealed class AccountSettingsException(string message) : Exception(message);
