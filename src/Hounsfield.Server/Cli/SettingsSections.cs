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

        CheckRanges(options, section);
        return options;
    }

    /// <summary>Checks each property's <see cref="RangeAttribute"/>, and those of a nested section (Dimse:Tls) under its own name.</summary>
    private static void CheckRanges(object options, string section)
    {
        foreach (var property in options.GetType().GetProperties(BindingFlags.Public | BindingFlags.Instance))
        {
            var value = property.GetValue(options);
            if (property.GetCustomAttribute<RangeAttribute>() is { } range && !range.IsValid(value))
            {
                throw new SettingsException($"{section}:{property.Name} is {Format(value)}; it must be {Describe(range)}.");
            }

            if (value is not null && property.PropertyType.IsClass && property.PropertyType.Name.EndsWith("Options", StringComparison.Ordinal))
            {
                CheckRanges(value, $"{section}:{property.Name}");
            }
        }
    }

    /// <summary>"between a and b", "more than a and at most b", or "at least a" when the upper bound is only the type's.</summary>
    private static string Describe(RangeAttribute range) => range.Maximum switch
    {
        int.MaxValue or long.MaxValue or double.MaxValue => $"at least {Format(range.Minimum)}",
        _ when range.MinimumIsExclusive => $"more than {Format(range.Minimum)} and at most {Format(range.Maximum)}",
        _ => $"between {Format(range.Minimum)} and {Format(range.Maximum)}",
    };

    private static string Format(object? value) => Convert.ToString(value, CultureInfo.InvariantCulture) ?? "empty";
}

/// <summary>A setting whose value cannot be used; serve stops with its message (exit code 1).</summary>
internal sealed class SettingsException(string message) : Exception(message);
