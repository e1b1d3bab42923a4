using System.Collections;
using System.ComponentModel.DataAnnotations;
using System.Globalization;
using System.Reflection;
using Hounsfield.Network.Association;
using Microsoft.Extensions.Configuration;

namespace Hounsfield.Server.Cli;

/// <summary>Reads a section of the configuration (appsettings, environment, --Section:Name arguments) into its options type.</summary>
internal static class SettingsSections
{
    /// <summary>
    /// The section as <typeparamref name="T"/> (its defaults when absent). A value that is not of its setting's type, out of
    /// the <see cref="RangeAttribute"/> its property declares, or not an AE title where it must be one
    /// (<see cref="AETitleAttribute"/>), stops the command with a message that names the setting and the value, not with an
    /// unhandled exception or a server that hangs or fails on its first request.
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

        Check(options, section);
        return options;
    }

    /// <summary>
    /// Checks each property's <see cref="RangeAttribute"/> and <see cref="AETitleAttribute"/>, and those of the settings
    /// objects it holds (Dimse:Tls, each of Dimse:Nodes) under their own names.
    /// </summary>
    private static void Check(object options, string section)
    {
        foreach (var property in options.GetType().GetProperties(BindingFlags.Public | BindingFlags.Instance))
        {
            var value = property.GetValue(options);
            var name = $"{section}:{property.Name}";
            if (property.GetCustomAttribute<RangeAttribute>() is { } range && !range.IsValid(value))
            {
                throw new SettingsException($"{name} is {Format(value)}; it must be {Describe(range)}.");
            }

            if (property.IsDefined(typeof(AETitleAttribute)))
            {
                try
                {
                    DicomAssociationOptions.ValidateAETitle(value as string, name);
                }
                catch (ArgumentException)
                {
                    throw new SettingsException($"{name} is '{value}'; it must be an AE title: 1 to 16 characters of the default repertoire, without backslash.");
                }
            }

            if (IsSettings(property.PropertyType))
            {
                if (value is not null)
                {
                    Check(value, name);
                }
            }
            else if (value is IList list && property.PropertyType.IsGenericType
                && IsSettings(property.PropertyType.GetGenericArguments()[0]))
            {
                for (var index = 0; index < list.Count; index++)
                {
                    if (list[index] is { } item)
                    {
                        Check(item, $"{name}:{index}");
                    }
                }
            }
        }
    }

    /// <summary>Whether objects of <paramref name="type"/> are settings of their own (declared here), not a value.</summary>
    private static bool IsSettings(Type type) => type.IsClass && type.Assembly == typeof(SettingsSections).Assembly;

    /// <summary>"between a and b", "more than a and at most b", or "at least a" when the upper bound is only the type's.</summary>
    private static string Describe(RangeAttribute range) => range.Maximum switch
    {
        int.MaxValue or long.MaxValue or double.MaxValue => $"at least {Format(range.Minimum)}",
        _ when range.MinimumIsExclusive => $"more than {Format(range.Minimum)} and at most {Format(range.Maximum)}",
        _ => $"between {Format(range.Minimum)} and {Format(range.Maximum)}",
    };

    private static string Format(object? value) => Convert.ToString(value, CultureInfo.InvariantCulture) ?? "empty";
}

/// <summary>A setting that is an AE title (PS3.5 Table 6.2-1), checked as <see cref="RangeAttribute"/> is.</summary>
[AttributeUsage(AttributeTargets.Property)]
internal sealed class AETitleAttribute : Attribute;

/// <summary>A setting whose value cannot be used; serve stops with its message (exit code 1).</summary>
internal sealed class SettingsException(string message) : Exception(message);
