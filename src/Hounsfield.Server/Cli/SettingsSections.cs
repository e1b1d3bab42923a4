using System.ComponentModel.DataAnnotations;
using System.Globalization;
using System.Reflection;
using Microsoft.Extensions.Configuration;

namespace Hounsfield.Server.Cli;

/// <summary>Reads a section of the configuration (appsettings, environment, --Section:Name arguments) into its options type.</summary>
internal static class SettingsSections
{
    /// <summary>
    /// The section as <typeparamref name="T"/> (its defaults when absent). A value that is not of its setting's type, or out
    /// of the <see cref="RangeAttribute"/> its property declares, stops the command with a message that names the setting and
    /// the value, not with an unhandled exception or a server that hangs or fails on its first request.
    /// </summary>
    public static T Read<T>(this IConfiguration configuration, string section)
        where T : new()
    {
        T options;
        try
        {
            options = configuration.GetSection(section).Get<T>() ?? new T();
        }
        catch (InvalidOperationException ex)
        {
            throw new SettingsException(ex.Message);
        }

        foreach (var property in typeof(T).GetProperties(BindingFlags.Public | BindingFlags.Instance))
        {
            if (property.GetCustomAttribute<RangeAttribute>() is { } range && !range.IsValid(property.GetValue(options)))
            {
                throw new SettingsException($"{section}:{property.Name} is {Format(property.GetValue(options))}; it must be {Describe(range)}.");
            }
        }

        return options;
    }

    /// <summary>"between a and b", or "at least a" when the upper bound is only the type's.</summary>
    private static string Describe(RangeAttribute range) => range.Maximum switch
    {
        int.MaxValue or long.MaxValue or double.MaxValue => $"at least {Format(range.Minimum)}",
        _ => $"between {Format(range.Minimum)} and {Format(range.Maximum)}",
    };

    private static string Format(object? value) => Convert.ToString(value, CultureInfo.InvariantCulture) ?? "empty";
}

/// <summary>A setting whose value cannot be used; serve stops with its message (exit code 1).</summary>
internal sealed class SettingsException(string message) : Exception(message);
