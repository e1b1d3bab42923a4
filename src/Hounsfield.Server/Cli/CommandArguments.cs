namespace Hounsfield.Server.Cli;

/// <summary>
/// A command's arguments, split the one way every command reads them: each option it names takes the next argument as its
/// value (an option given twice keeps both, <see cref="Value"/> is the last), each flag takes none, anything else that
/// starts with '-' is an unknown option, and the rest are operands, in order. What a command cannot run with is a
/// <see cref="CommandUsageException"/> that carries the command's usage (exit code 2).
/// </summary>
internal sealed class CommandArguments
{
    private readonly Dictionary<string, List<string>> values = new(StringComparer.Ordinal);
    private readonly HashSet<string> flagsGiven = new(StringComparer.Ordinal);

    private readonly string usage;

    private CommandArguments(string usage) => this.usage = usage;

    public List<string> Operands { get; } = [];

    /// <param name="usage">The command's usage, shown with every error ("usage: hounsfield ...").</param>
    /// <param name="options">The options that take a value; "--output|-o" names one with an alias (read as --output).</param>
    /// <param name="flags">The options that take none.</param>
    /// <exception cref="CommandUsageException">An unknown option, or an option without its value.</exception>
    public static CommandArguments Parse(string[] args, string usage, string[] options, string[]? flags = null)
    {
        var names = new Dictionary<string, string>(StringComparer.Ordinal);
        foreach (var option in options)
        {
            var spellings = option.Split('|');
            foreach (var spelling in spellings)
            {
                names[spelling] = spellings[0];
            }
        }

        var parsed = new CommandArguments(usage);
        for (var i = 0; i < args.Length; i++)
        {
            var argument = args[i];
            if (names.TryGetValue(argument, out var name))
            {
                if (i + 1 == args.Length)
                {
                    throw parsed.UsageError($"{argument} needs a value");
                }

                parsed.values.TryAdd(name, []);
                parsed.values[name].Add(args[++i]);
            }
            else if (flags?.Contains(argument, StringComparer.Ordinal) == true)
            {
                parsed.flagsGiven.Add(argument);
            }
            else if (argument.StartsWith('-') && argument.Length > 1)
            {
                throw parsed.UsageError($"unknown option '{argument}'");
            }
            else
            {
                parsed.Operands.Add(argument);
            }
        }

        return parsed;
    }

    /// <summary>The value of an option (by its first spelling), the last one when it was given more than once; null when not given.</summary>
    public string? Value(string option) => values.TryGetValue(option, out var given) ? given[^1] : null;

    /// <summary>Every value of an option that may be repeated, in order.</summary>
    public IReadOnlyList<string> Values(string option) => values.TryGetValue(option, out var given) ? given : [];

    public bool Has(string flag) => flagsGiven.Contains(flag);

    /// <summary>The operand, when exactly one was given.</summary>
    /// <exception cref="CommandUsageException">None, or more than one.</exception>
    public string SingleOperand(string name) => Operands switch
    {
        [var operand] => operand,
        [] => throw UsageError($"no {name} given"),
        _ => throw UsageError($"unexpected argument '{Operands[1]}'"),
    };

    /// <summary>The value of an option the command cannot run without.</summary>
    /// <exception cref="CommandUsageException">The option was not given.</exception>
    public string Required(string option) => Value(option) ?? throw UsageError($"{option} is required");

    /// <summary>An error in the arguments, with the command's usage.</summary>
    public CommandUsageException UsageError(string problem) => new($"{problem}\n{usage}");
}

/// <summary>Arguments a command cannot run with: reported with the command's usage, exit code 2.</summary>
internal sealed class CommandUsageException(string message) : Exception(message);
