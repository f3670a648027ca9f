using VirtualStack.Contracts.Policies;

namespace VirtualStack.Plugins.Policies;

/// <summary>Validation shared by the policies: known keys first, then parsing everything once.</summary>
internal static class Options
{
    /// <summary>Null when <paramref name="parse"/> accepts the options and every key is known; else the problem.</summary>
    public static string? Check(PolicyOptions options, string[] known, Action<PolicyOptions> parse)
    {
        if (options.CheckKeys(known) is { } unknown)
        {
            return unknown;
        }

        try
        {
            parse(options);
            return null;
        }
        catch (FormatException e)
        {
            return e.Message;
        }
    }

    public static string? Check<T>(PolicyOptions options, string known, Func<PolicyOptions, T> parse) =>
        Check(options, [known], o => parse(o));
}
