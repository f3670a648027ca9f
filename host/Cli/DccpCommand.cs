using System.Runtime.InteropServices;
using Microsoft.Extensions.Configuration;
using VirtualStack.Contracts.Net;
using VirtualStack.Contracts.Plugins;
using VirtualStack.Host.Configuration;
using VirtualStack.Host.Plugins;

namespace VirtualStack.Host.Cli;

/// <summary>
/// <c>vs dccp ...</c>: the DCCP endpoint on its own (listen with delivery to an unchanged UDP server, send with
/// statistics). The host references no plugin at compile time: the command comes from the Dccp plugin, loaded
/// through the plugin catalog like any other, which registers it as an <see cref="IPluginCommand"/>.
/// </summary>
internal static class DccpCommand
{
    public const string Name = "dccp";

    /// <summary>Runs the plugin's command with everything after <c>vs dccp</c>; SIGINT/SIGTERM cancel it (it prints its totals).</summary>
    public static async Task<int> RunAsync(IReadOnlyList<string> arguments)
    {
        // The plugins directory as vs run finds it: Plugins:Path from VS__ variables or the embedded default.
        IConfiguration configuration = ConfigurationLoader.Load(null, new Dictionary<string, string>());
        string path = PluginCatalog.ResolvePath(configuration[$"{SettingsReader.Root}:Plugins:Path"] ?? "plugins");
        using PluginCatalog catalog = PluginCatalog.Load(path);
        IPluginCommand? command = catalog.FindCommand(Name);
        if (command is null)
        {
            string why = catalog.Failures.FirstOrDefault(f => f.Name.Equals("Dccp", StringComparison.OrdinalIgnoreCase)) is { } failure
                ? $"the Dccp plugin failed to load: {failure.Reason}"
                : $"no plugin in {path} provides it (the Dccp plugin is missing)";
            ConsoleLog.Write($"vs {Name}: {why}");
            return 1;
        }

        if (arguments.Count == 0 || arguments[0] is "--help" or "-h" or "help" || arguments.Contains("--help"))
        {
            Console.Out.WriteLine($"{command.Help}\n{DccpDedup.Help}");
            return arguments.Count == 0 ? 2 : 0;
        }

        List<string>? dedup = null;
        NetEndpoint deliver = default;
        int window = 0;
        if (DccpDedup.Wanted(arguments) && (dedup = DccpDedup.Split(arguments, out deliver, out window)) is null)
        {
            return 2;
        }

        using var stop = new CancellationTokenSource();
        using PosixSignalRegistration sigint = PosixSignalRegistration.Create(PosixSignal.SIGINT, c => { c.Cancel = true; stop.Cancel(); });
        using PosixSignalRegistration sigterm = PosixSignalRegistration.Create(PosixSignal.SIGTERM, c => { c.Cancel = true; stop.Cancel(); });
        return dedup is null
            ? await command.RunAsync(arguments, Console.Out, Console.Error, stop.Token)
            : await DccpDedup.RunAsync(dedup, deliver, window, a => command.RunAsync(a, Console.Out, Console.Error, stop.Token));
    }
}
