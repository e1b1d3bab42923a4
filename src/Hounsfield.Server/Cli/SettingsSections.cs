using Microsoft.Extensions.Configuration;

namespace Hounsfield.Server.Cli;

/// <summary>Reads a section of the configuration (appsettings, environment, --Section:Name arguments) into its options type.</summary>
internal static class SettingsSections
{
    /// <summary>
    /// The section as <typeparamref name="T"/> (its defaults when absent). A value that is not of its setting's type stops
    /// the command with the binder's message, which names the setting and the value, not with an unhandled exception.
    /// </summary>
    public static T Read<T>(this IConfiguration configuration, string section)
        where T : new()
    {
        try
        {
            return configuration.GetSection(section).Get<T>() ?? new T();
        }
        catch (InvalidOperationException ex)
        {
            throw new SettingsException(ex.Message);
        }
    }
}

/// <summary>A setting whose value cannot be used; serve stops with its message (exit code 1).</summary>
internal sealed class SettingsException(string message) : Exception(message);
