namespace VirtualStack.Contracts.Plugins;

/// <summary>
/// A subcommand of the <c>vs</c> command line that a plugin provides (<c>vs &lt;Name&gt; ...</c>), so that a tool
/// built on a plugin's code (the Dccp plugin's <c>vs dccp listen|send</c>) ships with the plugin and the host needs
/// no compile-time reference to it. Registered with <see cref="IPluginRegistry.AddCommand"/>.
/// </summary>
public interface IPluginCommand
{
    /// <summary>The word after <c>vs</c> (lower case, e.g. <c>dccp</c>).</summary>
    string Name { get; }

    /// <summary>One line for <c>vs --help</c>.</summary>
    string Summary { get; }

    /// <summary>The full usage text (<c>vs &lt;Name&gt; --help</c>).</summary>
    string Help { get; }

    /// <summary>
    /// Runs the command with the arguments after its name. <paramref name="output"/> is for results (tables, JSON),
    /// <paramref name="error"/> for diagnostics. <paramref name="cancellationToken"/> fires on SIGINT/SIGTERM: stop,
    /// print what a user expects at the end (totals), and return. Returns the exit status: 0 success, 1 failure at
    /// run time, 2 bad usage (with a message naming the option and what is wrong).
    /// </summary>
    Task<int> RunAsync(IReadOnlyList<string> arguments, TextWriter output, TextWriter error, CancellationToken cancellationToken);
}
